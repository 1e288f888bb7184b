from llm.prompts import FewShotPrompt, shared_beginning

PROMPT = FewShotPrompt(
    instruction="Label the sentiment of the last review.",
    examples=(
        ("Review: Love it\nSentiment:", " positive"),
        ("Review: Broken\nSentiment:", " negative"),
    ),
    query="Review: Crashes on start\nSentiment:",
)
# The shape of Gemma's instruction-tuned template, as its GGUF files carry it.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else message['role']) }}\n"
    "{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_a_base_model_completes_the_examples_after_the_last_cue() -> None:
    assert PROMPT.as_completion() == (
        "Review: Love it\nSentiment: positive\n\n"
        "Review: Broken\nSentiment: negative\n\n"
        "Review: Crashes on start\nSentiment:"
    )


def test_a_base_model_sees_the_instruction_only_when_the_task_asks() -> None:
    with_header = FewShotPrompt(**{**PROMPT.__dict__, "instruction_for_base_models": True})
    assert with_header.as_completion().startswith("Label the sentiment of the last review.\n\n")


def test_a_chat_model_gets_instruction_and_examples_in_one_user_turn() -> None:
    rendered = PROMPT.as_chat(GEMMA_TEMPLATE, bos_token="<bos>", eos_token="<eos>")
    assert rendered.startswith("<start_of_turn>user\nLabel the sentiment of the last review.\n\n")
    assert "Review: Broken\nSentiment: negative" in rendered
    assert rendered.endswith(
        "Review: Crashes on start\nSentiment:<end_of_turn>\n<start_of_turn>model\n"
    )
    assert "<bos>" not in rendered  # the tokenizer adds it


def test_the_shared_beginning_is_everything_before_the_query_however_rendered() -> None:
    completion = PROMPT.as_completion()
    assert shared_beginning(completion, PROMPT) == (
        "Review: Love it\nSentiment: positive\n\nReview: Broken\nSentiment: negative\n\n"
    )
    chat = PROMPT.as_chat(GEMMA_TEMPLATE, bos_token="<bos>", eos_token="<eos>")
    beginning = shared_beginning(chat, PROMPT)
    assert beginning.startswith("<start_of_turn>user\nLabel the sentiment")
    assert chat == beginning + "Review: Crashes on start\nSentiment:" + chat.split("Sentiment:")[-1]
    assert shared_beginning("Something else entirely", PROMPT) == ""
