"""The synthetic scale corpus: reproducible batches, exact ground truth, and postings equal to FTS5's own."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from eval import bench_scale, synthetic
from index.bm25_postings import Postings, build_postings
from service.pipeline import add_documents
from index.embedder import FakeEmbedder
from index.manifest import POSTINGS, live_generation
from index.store import Index
from tests.index_helpers import LITERAL, make_doc

EMB = FakeEmbedder()


@pytest.fixture()
def base(tmp_path, monkeypatch):
    """A 24-document real index to draw from, and batches of 128 so a few hundred chunks span several."""
    rng = np.random.default_rng(1)
    words = ["pain", "joint", "nerve", "gout", "flu", "vaccine", "insulin", "hip", "spine", "disc", "asthma"]
    docs = LITERAL + [make_doc(f"r{i}", " ".join(rng.choice(words, 15)) + ".", title=f"Topic {i % 5}")
                      for i in range(20)]
    add_documents(tmp_path / "base", EMB, docs)
    monkeypatch.setattr(synthetic, "BATCH", 128)
    monkeypatch.setattr(bench_scale, "ADD_BATCH", 128)
    gen = live_generation(tmp_path / "base")
    return gen, synthetic.load_base(gen)


def test_batches_regenerate_identically_and_are_unit_vectors(base):
    _, b = base
    first = synthetic.batch_vectors(b, 300, 1, seed=5)
    assert np.array_equal(first, synthetic.batch_vectors(b, 300, 1, seed=5))
    assert not np.array_equal(first, synthetic.batch_vectors(b, 300, 1, seed=6))
    assert first.shape == (128, EMB.dim)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert synthetic.batch_vectors(b, 300, 2, seed=5).shape == (44, EMB.dim)


def test_exact_top_k_equals_brute_force_over_all_batches(base):
    _, b = base
    everything = np.concatenate([synthetic.batch_vectors(b, 300, j, 5) for j in synthetic.batches(300)])
    queries = EMB.embed(["gout joint pain", "flu vaccine", "insulin"])
    scores = queries @ everything.T
    expected = np.array([sorted(range(300), key=lambda i: (-s[i], i))[:10] for s in scores])
    assert np.array_equal(synthetic.exact_top_k(b, 300, 5, queries), expected)


def test_replicated_postings_equal_what_fts5_builds_from_the_synthetic_store(base, tmp_path):
    gen, b = base
    bases = synthetic.all_bases(b, 300, 5)
    bench_scale.write_store(tmp_path / "store.sqlite", b, bases, with_text_index=True)
    fts5 = build_postings(sqlite3.connect(tmp_path / "store.sqlite"))
    replicated = bench_scale.replicate_postings(Postings.load(gen / POSTINGS), b.rowids, bases)
    assert replicated.terms == fts5.terms
    for name in ("ptr", "pos", "freq", "rows", "doclen"):
        assert np.array_equal(getattr(replicated, name), getattr(fts5, name)), name


def test_benchmark_indexes_open_and_compressed_search_finds_the_exact_neighbours(base, tmp_path):
    gen, b = base
    built = bench_scale.build_size(tmp_path / "bench", b, gen, 300, 5, ["flat"], with_text_index=True)
    assert built["n"] == 300 and set(built["bytes"]["flat"]) >= {"store.sqlite", "vectors.faiss", "bm25.npz"}
    index = Index.open(tmp_path / "bench" / "n300-flat")  # checksums verified
    assert len(index) == 300 and index.chunk("syn7#0").text == b.texts[synthetic.all_bases(b, 300, 5)[7]]
    queries = EMB.embed(["gout joint pain", "flu vaccine"])
    exact = synthetic.exact_top_k(b, 300, 5, queries)
    found = [[r[0] for r in index.rank("", 10, "dense", query_vector=q)] for q in queries]
    assert bench_scale.recall_at_k(found, exact) == 1.0
