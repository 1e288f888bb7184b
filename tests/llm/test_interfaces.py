"""The packaged models have the small interfaces the pipeline asks for (llm.interfaces), and
those interfaces are all a stage needs of them."""

from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from llm.embeddings import Embedder, load_embedder
from llm.generation import LocalLLM, ModelSettings, load_llm
from llm.interfaces import (
    Completion,
    IdentifiedModel,
    LabelScorer,
    TextEmbedder,
    TextGenerator,
)
from llm.prompts import FewShotPrompt


@pytest.fixture(scope="module")
def llm() -> LocalLLM:
    return load_llm(ModelSettings(model_path="", cache_dir=Path(settings.MODEL_CACHE_DIR)))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return load_embedder("")


def test_the_generative_model_generates_scores_labels_and_says_which_file_it_is(
    llm: LocalLLM,
) -> None:
    assert isinstance(llm, TextGenerator)
    assert isinstance(llm, LabelScorer)
    assert isinstance(llm, IdentifiedModel)
    assert not isinstance(llm, TextEmbedder)


def test_the_embedder_embeds_and_is_no_generator(embedder: Embedder) -> None:
    assert isinstance(embedder, TextEmbedder)
    assert not isinstance(embedder, TextGenerator)
    assert not isinstance(embedder, LabelScorer)


def complete_through(model: TextGenerator, prompt: FewShotPrompt) -> Completion:
    """Ask for a completion knowing only the interface (mypy checks LocalLLM fits it)."""
    return model.complete(model.render(prompt), max_tokens=4, stop=["\n"])


def scores_through(model: LabelScorer, prompt: str) -> dict[str, float]:
    return model.label_probabilities(prompt, ["positive", "negative"])


def vectors_through(model: TextEmbedder, texts: list[str]) -> np.ndarray:
    return model.embed(texts)


def test_a_stage_needs_nothing_but_the_interfaces(llm: LocalLLM, embedder: Embedder) -> None:
    prompt = FewShotPrompt(
        instruction="Label the sentiment.",
        examples=(("Review: Lovely crew.\nSentiment:", " positive"),),
        query="Review: Lost my bag.\nSentiment:",
    )
    completion = complete_through(llm, prompt)
    assert isinstance(completion, Completion) and completion.tokens <= 4
    scores = scores_through(llm, llm.render(prompt))
    assert sum(scores.values()) == pytest.approx(1.0)
    vectors = vectors_through(embedder, ["Lost my bag.", "My bag never arrived."])
    assert vectors.shape == (2, embedder.dimensions)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert float(vectors[0] @ vectors[1]) > 0.5
