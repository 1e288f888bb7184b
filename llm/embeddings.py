"""Sentence embeddings behind one small interface: a model folder in, unit vectors out.

Any sentence-transformers model folder works (EMBEDDING_MODEL); the default is the packaged
all-MiniLM-L6-v2. This module does not import Django; callers pass settings in.
"""

import functools
from collections.abc import Sequence

import numpy as np

from llm.cores import available_cores
from llm.models_on_disk import embedding_model_dir

# Measured here: 32-64 texts a batch keeps both cores busy; larger batches gain nothing.
BATCH_SIZE = 64


class Embedder:
    """A loaded sentence-transformers model: a llm.interfaces.TextEmbedder."""

    def __init__(self, configured_model: str, device: str = "cpu") -> None:
        import torch
        from sentence_transformers import SentenceTransformer  # slow import: only when used

        # torch takes every physical core of the host, a container's CPU limit or not.
        torch.set_num_threads(min(torch.get_num_threads(), available_cores()))
        model = embedding_model_dir(configured_model)
        self.name = model.name
        # The models come from installed packages or a configured folder: the loader is told
        # never to look online (HF_HUB_OFFLINE=1 in the image and the Makefile covers the
        # hub client as a whole).
        self._model = SentenceTransformer(str(model.path), device=device, local_files_only=True)
        self.dimensions = int(self._model.get_embedding_dimension() or 0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit-length float32 row per text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


@functools.cache
def load_embedder(configured_model: str = "") -> Embedder:
    """Return the embedder for a setting, loaded once per process."""
    return Embedder(configured_model)
