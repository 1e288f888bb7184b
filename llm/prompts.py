"""Prompts that work on base and instruction-tuned models alike.

A base model (such as the packaged Gemma 3 270M) cannot follow instructions: it continues
text. So every task is shown by examples, and the model completes the answer after the
last cue. An instruction-tuned GGUF carries a chat template; then the same examples go into
one user turn, after the instruction, and the model answers in its own turn.
"""

from dataclasses import dataclass

from llama_cpp.llama_chat_format import Jinja2ChatFormatter


@dataclass(frozen=True)
class FewShotPrompt:
    """A task shown by examples.

    Each example is (input, answer): the input ends with a cue ("Sentiment:") and the answer
    follows it as the model should write it (" negative"). The query is an input without
    its answer.
    """

    instruction: str
    examples: tuple[tuple[str, str], ...]
    query: str
    # Base models: measured on sentiment, an instruction line above the examples lowered
    # accuracy, so it is left out unless a task asks for it.
    instruction_for_base_models: bool = False

    def examples_text(self) -> str:
        shown = [example_input + answer for example_input, answer in self.examples]
        return "\n\n".join([*shown, self.query])

    def as_completion(self) -> str:
        """Return the text a base model completes."""
        if self.instruction_for_base_models:
            return f"{self.instruction}\n\n{self.examples_text()}"
        return self.examples_text()

    def as_chat(self, template: str, bos_token: str, eos_token: str) -> str:
        """Return the text an instruction-tuned model answers, rendered by its chat template."""
        user_turn = f"{self.instruction}\n\n{self.examples_text()}"
        formatter = Jinja2ChatFormatter(template, eos_token=eos_token, bos_token=bos_token)
        rendered = formatter(messages=[{"role": "user", "content": user_turn}]).prompt
        # The tokenizer adds the begin-of-text token itself.
        return rendered.removeprefix(bos_token) if bos_token else rendered


def shared_beginning(rendered: str, prompt: FewShotPrompt) -> str:
    """Return the part of rendered (prompt as a model renders it) before its query: the
    instruction and examples, the same for every query. Empty when the query cannot be
    found in it (a template that rewrites the text)."""
    start = rendered.rfind(prompt.query.strip())
    return rendered[:start] if start > 0 else ""


# Between the prompts recorded for one output that took several (a summary's lines, a
# copy draft's themes).
PROMPT_SEPARATOR = "\n\n----- next prompt -----\n\n"
