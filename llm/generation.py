"""The generative model behind one small interface, over llama-cpp-python.

Any GGUF file works (LLM_MODEL_PATH); the default is the packaged Gemma 3 270M base model.
Every call is capped in tokens and time. Prompts that share a prefix reuse its evaluation:
llama.cpp keeps the evaluated tokens, and only what differs is evaluated again.
This module does not import Django; callers pass settings in.
"""

import functools
import hashlib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from llm.cores import available_cores
from llm.interfaces import Completion, LabelReading
from llm.models_on_disk import generative_model_file
from llm.prompts import FewShotPrompt

if TYPE_CHECKING:
    from llama_cpp.llama_types import CreateCompletionResponse

__all__ = ["Completion", "CompletionCounters", "LocalLLM", "ModelSettings", "load_llm"]

MAX_TOKENS_CAP = 512
# The feature tokens of label scoring: the first this many vocabulary entries that are a
# word on its own (a space, then three or more lowercase letters). Tokenizers number their
# pieces in merge order, so these are common words and word beginnings, whatever the
# model; the rule needs nothing but the tokenizer (docs/research/sentiment.md).
FEATURE_TOKENS = 1536
FEATURE_PIECE = re.compile(" [a-z]{3,}")


@dataclass(frozen=True)
class ModelSettings:
    model_path: str  # empty: the packaged model
    cache_dir: Path
    n_gpu_layers: int = 0  # -1: every layer on the GPU
    n_threads: int = 0  # 0: every core this process may use (llm.cores)
    context_size: int = 2048


@dataclass(frozen=True)
class CompletionCounters:
    """llama.cpp's own counters for one completion: prompt tokens evaluated and tokens
    generated, with the seconds each took."""

    prompt_tokens: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float


class LocalLLM:
    """A GGUF model loaded with llama.cpp; one per process (see load_llm). It is a
    llm.interfaces.TextGenerator and a llm.interfaces.LabelScorer."""

    def __init__(self, config: ModelSettings) -> None:
        from llama_cpp import Llama  # slow import: only when a model is used

        model = generative_model_file(config.model_path, config.cache_dir)
        # llama-cpp-python's own default is half the cores for generation: 27 against 40
        # tokens a second on 2 cores here.
        threads = config.n_threads or available_cores()
        self.name = model.name
        self.path = model.path
        # Tokens evaluated so far: what a prompt sharing a prefix with the last one saves.
        self.evaluated_tokens = 0
        # The shared beginning last evaluated as one batch from the start and still held in
        # llama.cpp's cache (_evaluate_after_shared); empty when none is.
        self._shared_batch: list[int] = []
        self._llama = Llama(
            model_path=str(model.path),
            n_ctx=config.context_size,
            n_gpu_layers=config.n_gpu_layers,
            n_threads=threads,
            n_threads_batch=threads,
            # Only the last position's logits are read (label scoring); keeping every
            # position's, as logits_all=True does, made scoring about 10 times slower here.
            logits_all=False,
            verbose=False,
        )
        # An instruction-tuned GGUF carries its chat template; a base model has none.
        self.chat_template: str = self._llama.metadata.get("tokenizer.chat_template", "")

    def render(self, prompt: FewShotPrompt) -> str:
        """Return the prompt as this model should see it: plain text to complete for a base
        model, the chat template's user turn for an instruction-tuned one."""
        if not self.chat_template:
            return prompt.as_completion()
        vocab = self._llama
        return prompt.as_chat(
            self.chat_template,
            bos_token=vocab.detokenize([vocab.token_bos()]).decode(errors="ignore"),
            eos_token=vocab.detokenize([vocab.token_eos()]).decode(errors="ignore"),
        )

    @functools.cached_property
    def sha256(self) -> str:
        """The model file's digest, recorded with every output it produces."""
        digest = hashlib.sha256()
        with self.path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    @property
    def threads(self) -> tuple[int, int]:
        """Return the threads llama.cpp uses: (for generation, for prompt evaluation)."""
        return self._llama.n_threads, self._llama.n_threads_batch

    def piece(self, token: int) -> str:
        """Return the text of one vocabulary entry as it reads in a text: a word-initial
        piece starts with its space."""
        return self._llama.detokenize([token]).decode(errors="replace")

    def tokenize(self, text: str) -> list[int]:
        """Return the tokens of text as a prompt (with the begin-of-text token)."""
        return self._llama.tokenize(text.encode(), add_bos=True)

    def read_labels(self, prompt: str, labels: Sequence[str], *, shared: str = "") -> LabelReading:
        """Return how likely each label is to come next after prompt, normalised over labels,
        and the logits of the feature tokens there, from the same evaluation.

        Each label is scored by its first token: with a leading space after a base model's
        cue ("Sentiment: negative"), without one at the start of a chat model's answer.
        shared: the beginning of prompt that other prompts share (llm.prompts.shared_beginning);
        given, the reading is the same whatever was read before (_evaluate_after_shared).
        """
        tokens = self.tokenize(prompt)
        if shared:
            self._evaluate_after_shared(tokens, _common_length(self.tokenize(shared), tokens))
        else:
            self._evaluate(tokens)
        logits = self._last_logits()
        label_logits = np.array([logits[self._first_token(label)] for label in labels])
        exp = np.exp(label_logits - label_logits.max())
        return LabelReading(
            probabilities=dict(zip(labels, (exp / exp.sum()).tolist(), strict=True)),
            features=logits[self.feature_tokens].astype(np.float32),
        )

    def label_probabilities(self, prompt: str, labels: Sequence[str]) -> dict[str, float]:
        """Return how likely each label is to come next after prompt (read_labels)."""
        return self.read_labels(prompt, labels).probabilities

    @functools.cached_property
    def feature_tokens(self) -> np.ndarray:
        """The ids of the feature tokens (FEATURE_TOKENS, FEATURE_PIECE), in id order."""
        found: list[int] = []
        for token in range(self._llama.n_vocab()):
            if FEATURE_PIECE.fullmatch(self.piece(token)):
                found.append(token)
                if len(found) == FEATURE_TOKENS:
                    break
        return np.array(found, dtype=np.int64)

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), timeout_s: float = 30.0
    ) -> Completion:
        """Return greedy text after prompt, stopped by a stop string, max_tokens or timeout_s."""
        from llama_cpp import StoppingCriteriaList

        self._shared_batch = []  # llama-cpp-python may evaluate the cache again from anywhere
        deadline = time.monotonic() + timeout_s
        timed_out = False

        def out_of_time(_tokens: object, _logits: object) -> bool:
            nonlocal timed_out
            timed_out = time.monotonic() > deadline
            return timed_out

        # Not streamed, so one response (the declared type also allows an iterator).
        result = cast(
            "CreateCompletionResponse",
            self._llama.create_completion(
                prompt,
                max_tokens=min(max_tokens, MAX_TOKENS_CAP),
                temperature=0.0,
                stop=list(stop),
                stopping_criteria=StoppingCriteriaList([out_of_time]),
            ),
        )
        choice = result["choices"][0]
        reason = "time" if timed_out else (choice.get("finish_reason") or "stop")
        return Completion(
            text=choice["text"], finish_reason=reason, tokens=result["usage"]["completion_tokens"]
        )

    def counted_completion(self, prompt: str, max_tokens: int) -> CompletionCounters:
        """Complete prompt greedily from a cold cache (nothing reused from an earlier
        prompt) and return llama.cpp's counters for it: the benchmark's token rates."""
        import llama_cpp

        self._llama.reset()
        self._shared_batch = []
        llama_cpp.llama_perf_context_reset(self._llama.ctx)
        self._llama.create_completion(
            prompt, max_tokens=min(max_tokens, MAX_TOKENS_CAP), temperature=0.0
        )
        perf = llama_cpp.llama_perf_context(self._llama.ctx)
        return CompletionCounters(
            prompt_tokens=int(perf.n_p_eval),
            prompt_seconds=perf.t_p_eval_ms / 1000,
            generated_tokens=int(perf.n_eval),
            generation_seconds=perf.t_eval_ms / 1000,
        )

    def _evaluate(self, tokens: list[int]) -> None:
        """Evaluate tokens, keeping the prefix already evaluated for an earlier prompt."""
        evaluated = self._llama.input_ids[: self._llama.n_tokens].tolist()
        # The last token is evaluated again for its logits.
        keep = min(_common_length(evaluated, tokens), len(tokens) - 1)
        if keep < len(self._shared_batch):
            self._shared_batch = []  # overwritten in part
        self._llama.n_tokens = keep
        self._llama.eval(tokens[keep:])
        self.evaluated_tokens += len(tokens) - keep

    def _evaluate_after_shared(self, tokens: list[int], shared: int) -> None:
        """Evaluate tokens whose first `shared` are the ones other prompts share, so that the
        last logits depend on these tokens only. llama.cpp's arithmetic depends on how a
        prompt is cut into batches: an item read after another that shares more of its
        beginning, or after itself, scored up to 0.05 differently (docs/benchmarks.md, issue
        21). So the shared part is always one batch from the start, kept for the next prompt,
        and the rest one batch after it: as fast as reusing every shared token."""
        shared = min(shared, len(tokens) - 1)
        kept = self._llama.n_tokens >= shared and self._shared_batch == tokens[:shared]
        if not kept:
            self._llama.n_tokens = 0
            self._llama.eval(tokens[:shared])
            self._shared_batch = tokens[:shared]
            self.evaluated_tokens += shared
        self._llama.n_tokens = shared
        self._llama.eval(tokens[shared:])
        self.evaluated_tokens += len(tokens) - shared

    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """Return, for each continuation, the mean log-probability of its tokens after
        prompt (length-normalised, so that longer phrases are not penalised for length).

        The prompt is evaluated once and kept; each continuation is then read one token at
        a time from the end of the prompt, so a few short phrases cost a few dozen
        one-token steps (logits_all stays off, see __init__)."""
        prompt_tokens = self.tokenize(prompt)
        scores = []
        for text in continuations:
            tokens = self._continuation_tokens(text)
            if not tokens:
                scores.append(float("-inf"))
                continue
            self._evaluate(prompt_tokens)
            total = 0.0
            for position, token in enumerate(tokens):
                total += float(_log_softmax(self._last_logits())[token])
                if position < len(tokens) - 1:
                    self._llama.eval([token])
            scores.append(total / len(tokens))
        return scores

    def _continuation_tokens(self, text: str) -> list[int]:
        """The tokens of text as the model's answer: after a space following a base model's
        cue ("Sentiment: negative"), without one at the start of a chat model's turn."""
        spaced = text if self.chat_template else f" {text}"
        return self._llama.tokenize(spaced.encode(), add_bos=False)

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        last_logits = llama_cpp.llama_get_logits(self._llama.ctx)  # the last token's only
        return np.ctypeslib.as_array(last_logits, shape=(self._llama.n_vocab(),))

    @functools.cache  # noqa: B019 - one model per process, never freed
    def _first_token(self, label: str) -> int:
        return self._continuation_tokens(label)[0]


def _common_length(first: Sequence[int], second: Sequence[int]) -> int:
    """Return how many tokens first and second share from their start."""
    length = 0
    for one, other in zip(first, second, strict=False):
        if one != other:
            break
        length += 1
    return length


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


@functools.cache
def load_llm(config: ModelSettings) -> LocalLLM:
    """Return the model for these settings, loaded once per process."""
    return LocalLLM(config)
