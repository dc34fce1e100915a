"""The int8 ONNX backend against the plain sentence-transformers model (real weights, a few texts)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

TEXTS = [
    "Glaucoma\nWhat is glaucoma?\nGlaucoma is a group of diseases that can damage the eye's optic nerve.",
    "short",
    "Diabetes is a disease in which your blood glucose, or blood sugar, levels are too high. " * 12,
]


@pytest.mark.slow
def test_onnx_int8_matches_torch_fp32(tmp_path, monkeypatch):
    from index.embedder import SentenceTransformerEmbedder, load_embedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MEDCITE_CACHE", str(tmp_path / "models"))
    fast = load_embedder(backend="onnx")
    plain = SentenceTransformerEmbedder()
    a, b = fast.embed(TEXTS), plain.embed(TEXTS)
    assert a.shape == b.shape == (3, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.98
    # the order of the input is kept although batches are sorted by length
    assert np.allclose(fast.embed(TEXTS[::-1])[::-1], a, atol=1e-5)
    assert fast.name == plain.name == "all-MiniLM-L6-v2"
    assert list((tmp_path / "models").iterdir())  # exported locally from the bundled weights
