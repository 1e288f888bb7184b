"""The local models as configured in settings, and the rows that record which model file
produced an output.

configured_llm() and configured_embedder() are for the edges only (the analysis run, views,
commands, tasks, devtools): stages take their models as parameters, behind the interfaces
in llm.interfaces.
"""

from pathlib import Path

from django.conf import settings

from insights.models import ModelVersion
from llm.embeddings import Embedder, load_embedder
from llm.generation import LocalLLM, ModelSettings, load_llm
from llm.interfaces import IdentifiedModel


def configured_llm() -> LocalLLM:
    """Return the generative model the settings name, loaded once per process."""
    return load_llm(
        ModelSettings(
            model_path=settings.LLM_MODEL_PATH,
            cache_dir=Path(settings.MODEL_CACHE_DIR),
            n_gpu_layers=settings.LLM_N_GPU_LAYERS,
            n_threads=settings.LLM_N_THREADS,
            context_size=settings.LLM_CONTEXT_SIZE,
        )
    )


def configured_embedder() -> Embedder:
    """Return the embedding model the settings name, loaded once per process."""
    return load_embedder(settings.EMBEDDING_MODEL)


def model_version(model: IdentifiedModel) -> ModelVersion:
    """Return the row that records this model file (name and sha256)."""
    version, _ = ModelVersion.objects.get_or_create(name=model.name, sha256=model.sha256)
    return version
