"""The Ray path's plan of embedder calls is exactly the calls the single-process driver makes (no Ray needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from index.embedder import FakeEmbedder
from ingest.batch import read_many
from ingest.readers import discover
from service import pipeline
from service.distributed import PrecomputedEmbedder, call_key, plan_calls, texts_to_embed

ROOT = Path(__file__).resolve().parents[1]


class Recording(FakeEmbedder):
    """The test embedder, remembering every call it was given."""

    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return super().embed(texts)


def test_plan_equals_the_single_process_calls(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "EMBED_BATCH", 20)  # several flushes over the 124 chunks of corpus/
    embedder = Recording()
    pipeline.ingest_paths([ROOT / "corpus"], tmp_path / "idx", embedder)
    docs = [d for _, result in read_many(discover([ROOT / "corpus"])) for d in result]
    planned = plan_calls([texts_to_embed(d) for d in docs], 20)
    assert len(embedder.calls) > 4 and planned == embedder.calls


def test_precomputed_embedder_answers_known_calls_and_embeds_the_rest():
    model = FakeEmbedder()
    known = ["a chunk", "another chunk"]
    table = {call_key(known): np.ones((2, model.dim), np.float32)}
    embedder = PrecomputedEmbedder(model, table)
    assert np.array_equal(embedder.embed(known), np.ones((2, model.dim), np.float32))
    assert np.array_equal(embedder.embed(["unplanned"]), model.embed(["unplanned"])) and embedder.misses == 1
    assert call_key(["ab", "c"]) != call_key(["a", "bc"])
