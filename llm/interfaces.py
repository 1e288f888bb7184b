"""The small interfaces the pipeline asks of its models, so that stages take any model that
has them: llm.generation.LocalLLM (text generation and label scoring) and
llm.embeddings.Embedder (embedding), or a test's stand-in where the real model cannot be
made to misbehave on demand.

Every model says which file it is (name and sha256): outputs record the model that made them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from llm.prompts import FewShotPrompt


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str  # "stop", "length" or "time"
    tokens: int


@runtime_checkable
class IdentifiedModel(Protocol):
    """A model file: its name and the sha256 recorded with everything it produces."""

    @property
    def name(self) -> str: ...

    @property
    def sha256(self) -> str: ...


@runtime_checkable
class TextGenerator(IdentifiedModel, Protocol):
    """Completes a prompt with text (names, summaries, copy)."""

    def render(self, prompt: FewShotPrompt) -> str:
        """Return the prompt as this model should see it."""
        ...

    def complete(
        self, prompt: str, *, max_tokens: int, stop: Sequence[str] = (), timeout_s: float = 30.0
    ) -> Completion:
        """Return greedy text after prompt, stopped by a stop string, max_tokens or timeout_s."""
        ...


@dataclass(frozen=True)
class LabelReading:
    """What a model reads after a prompt: how likely each label is to come next (normalised
    over the labels), and its next-token logits at a fixed set of common word tokens (the
    model's feature tokens), a linear image of its final hidden state that a classifier can
    learn from (docs/research/sentiment.md, "Gemma's hidden state as classifier features")."""

    probabilities: dict[str, float]
    features: np.ndarray  # float32, one value per feature token; empty: the model gives none


@runtime_checkable
class LabelScorer(IdentifiedModel, Protocol):
    """Scores which of a few labels comes next after a prompt (sentiment)."""

    def render(self, prompt: FewShotPrompt) -> str:
        """Return the prompt as this model should see it."""
        ...

    def read_labels(self, prompt: str, labels: Sequence[str], *, shared: str = "") -> LabelReading:
        """Return the labels' probabilities to come next, with the feature tokens' logits.
        shared: the beginning of prompt that other prompts share (its examples); given, the
        reading depends on nothing read before it."""
        ...


@runtime_checkable
class PhraseScorer(IdentifiedModel, Protocol):
    """Scores how well each of a few phrases continues a prompt (theme names, facets): the
    model chooses among candidates instead of writing."""

    def render(self, prompt: FewShotPrompt) -> str:
        """Return the prompt as this model should see it."""
        ...

    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[float]:
        """Return each continuation's mean token log-probability after prompt."""
        ...

    @property
    def chat_template(self) -> str:
        """The model's chat template: empty for a base model, which cannot follow
        instructions."""
        ...


@runtime_checkable
class DescribingModel(TextGenerator, PhraseScorer, Protocol):
    """What describing themes asks of the language model: choosing among phrases, and
    writing (a card's sentence, only where the model has a chat template)."""


@runtime_checkable
class TextEmbedder(Protocol):
    """Turns texts into unit vectors (themes, search, summary checks)."""

    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit-length float32 row per text."""
        ...
