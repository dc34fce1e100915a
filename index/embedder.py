"""The embedder protocol and its implementations (sentence-transformers, and a fake for tests)."""
from __future__ import annotations

import hashlib
import os
import re
from typing import Protocol

import numpy as np

from index.models import MAX_INFERENCE_THREADS, backend_name, model_name, resolve_model, token_limit

class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, batched and sorted by length (the library sorts)."""

    def __init__(self, model: str | None = None, batch_size: int = 64, max_tokens: int | None = None,
                 **st_kwargs):
        import torch

        torch.set_num_threads(min(os.cpu_count() or 1, MAX_INFERENCE_THREADS))
        from sentence_transformers import SentenceTransformer

        self.name = model_name(model)
        # local files only: nothing is ever fetched from a model hub
        self.model = SentenceTransformer(resolve_model(self.name), device="cpu", local_files_only=True,
                                         **st_kwargs)
        self.dim = int((getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension)())
        self.batch_size = batch_size
        self.max_tokens = token_limit(self.name, int(self.model.max_seq_length), max_tokens)
        self.model.max_seq_length = self.max_tokens

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


_WORD = re.compile(r"[a-z0-9]+")


class FakeEmbedder:
    """Deterministic bag-of-words hashing embedder: fast, no model, similar words -> similar vectors."""

    def __init__(self, dim: int = 64, name: str = "fake-hash-64"):
        self.dim = dim
        self.name = name

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            h = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
            vec[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])


def load_embedder(model: str | None = None, backend: str | None = None, threads: int | None = None,
                  max_tokens: int | None = None, cache_dir: str | None = None) -> Embedder:
    """The embedder named by `model` (default all-MiniLM-L6-v2; "fake..." gives the test embedder).

    `backend`: "onnx" (default) = int8 ONNX Runtime export built locally into `cache_dir`, "torch" = fp32.
    `threads`: ONNX Runtime threads per call; a server running calls in parallel wants 1.
    `max_tokens`: wordpieces embedded per text (default: 128 for the default model, else the model's limit).
    """
    name = model_name(model)
    if name.startswith("fake"):
        return FakeEmbedder()
    if backend_name(backend) == "onnx":
        from index.onnx_backend import OnnxEmbedder

        return OnnxEmbedder(name, threads=threads, max_tokens=max_tokens, cache_dir=cache_dir)
    return SentenceTransformerEmbedder(name, max_tokens=max_tokens)
