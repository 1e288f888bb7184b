"""The language model's throughput on this machine: prompt tokens and generated tokens per
second, read from llama.cpp's own counters after one completion in this process (the same
model file, threads and GPU layers the worker uses)."""

from collections.abc import Sequence
from dataclasses import dataclass

from llm.generation import LocalLLM

# About 400 tokens of feedback: the size of a theme-summary prompt.
PROMPT_CHARS = 1600
GENERATED_TOKENS = 64
PROMPT_TEMPLATE = "Customer feedback:\n{feedback}\n\nThe main complaints are:"


@dataclass(frozen=True)
class TokenRate:
    phase: str  # "prompt" or "generation"
    tokens: int
    seconds: float

    @property
    def per_second(self) -> float | None:
        return self.tokens / self.seconds if self.seconds > 0 else None


def speed_prompt(texts: Sequence[str]) -> str:
    """Return a fixed prompt made of the first texts, about PROMPT_CHARS of feedback."""
    feedback = "\n".join(f"- {text}" for text in texts)[:PROMPT_CHARS]
    return PROMPT_TEMPLATE.format(feedback=feedback)


def llm_token_rates(llm: LocalLLM, texts: Sequence[str]) -> list[TokenRate]:
    """Return the prompt and generation rates of one greedy completion, from a cold cache."""
    counters = llm.counted_completion(speed_prompt(texts), max_tokens=GENERATED_TOKENS)
    return [
        TokenRate("prompt", counters.prompt_tokens, counters.prompt_seconds),
        TokenRate("generation", counters.generated_tokens, counters.generation_seconds),
    ]
