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
    fast = load_embedder(backend="onnx", cache_dir=tmp_path / "models")
    plain = SentenceTransformerEmbedder()
    a, b = fast.embed(TEXTS), plain.embed(TEXTS)
    assert a.shape == b.shape == (3, 384) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert (a * b).sum(axis=1).min() > 0.98
    # the order of the input is kept although batches are sorted by length
    assert np.allclose(fast.embed(TEXTS[::-1])[::-1], a, atol=1e-5)
    assert fast.name == plain.name == "all-MiniLM-L6-v2"
    assert list((tmp_path / "models").iterdir())  # exported locally from the bundled weights


@pytest.mark.slow
def test_serving_tokenizer_equals_transformers_and_torch_stays_unloaded(tmp_path):
    import os
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from index.models import resolve_model
    from index.onnx_backend import exported_model_dir, fast_tokenizer

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MEDCITE_CACHE": str(tmp_path / "models")}
    folder = exported_model_dir(resolve_model(None), tmp_path / "models")
    texts = TEXTS + ["", "Caf\u00e9 na\u00efve \U0001F600 \u4e2d\u6587 5 \u00b5g/mL", "x " * 400]
    expected = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))(
        texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    got = fast_tokenizer(folder / "tokenizer" / "tokenizer.json", 128).encode_batch(texts)
    assert np.array_equal(expected["input_ids"], np.array([e.ids for e in got]))
    assert np.array_equal(expected["attention_mask"], np.array([e.attention_mask for e in got]))
    assert np.array_equal(expected["token_type_ids"], np.array([e.type_ids for e in got]))
    # a serving process embeds with onnxruntime + tokenizers only: torch is never imported
    code = ("import sys; from index.embedder import load_embedder; "
            f"load_embedder(backend='onnx', cache_dir={str(tmp_path / 'models')!r}).embed(['q']); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_the_embedding_benchmark_counts_the_wordpieces_the_onnx_model_sees(tmp_path):
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    from eval.bench_embed import count_tokens
    from index.models import resolve_model
    from index.onnx_backend import exported_model_dir, fast_tokenizer

    folder = exported_model_dir(resolve_model(None), tmp_path / "models")
    serving = SimpleNamespace(tokenizer=fast_tokenizer(folder / "tokenizer" / "tokenizer.json", 128))
    expected = AutoTokenizer.from_pretrained(str(folder / "tokenizer"))(TEXTS, truncation=True, max_length=128)
    # with specials, truncated at the window, no padding: 128 for the long text, 3 for "short"
    assert count_tokens(serving, TEXTS, 128) == sum(len(ids) for ids in expected["input_ids"])
    assert count_tokens(serving, ["short"], 128) == 3
    # the serving tokenizer itself still pads a batch to its longest text
    assert len({len(e.ids) for e in serving.tokenizer.encode_batch(TEXTS)}) == 1
