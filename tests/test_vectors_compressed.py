"""The compressed (IVF-PQ) vector index: trained above its threshold, exact re-scoring, stable ids, manifest checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from index import vectors
from index.build import IndexWriter, delete_document
from index.embedder import FakeEmbedder
from index.errors import IndexMismatch
from index.manifest import EXACT_VECTORS, MANIFEST, VECTOR_IDS, live_generation
from index.store import Index, chunk_search_text
from service.pipeline import add_documents
from tests.index_helpers import make_doc

EMB = FakeEmbedder()
# 8 lists and 4-bit codes: trainable on the 150 test vectors (an 8-bit PQ needs 256 training points).
FACTORY = "IVF8,PQ16x4"
SETTINGS = vectors.VectorSettings(kind="ivfpq", min_vectors=100, factory=FACTORY)
WORDS = [f"w{i}" for i in range(60)]


def corpus(n: int, seed: int = 7) -> list:
    """n one-chunk documents of random words."""
    rng = np.random.default_rng(seed)
    return [make_doc(f"d{i:03d}", " ".join(rng.choice(WORDS, 12)) + ".") for i in range(n)]


def build(path, docs, settings=SETTINGS):
    """An index of docs written with the given vector settings."""
    add_documents(path, EMB, docs, vector_settings=settings)
    return path


def chunk_rowids(index: Index) -> dict[str, int]:
    """chunk_id -> rowid (the vector id) of every chunk."""
    return dict(index._rows("SELECT chunk_id, id FROM chunks"))


def float16_ranking(index: Index, query: str, k: int) -> list[str]:
    """Chunk ids of the exact top k over float16-rounded vectors (what re-scoring computes), ties by rowid."""
    rowids = chunk_rowids(index)
    ids = sorted(rowids, key=rowids.get)
    matrix = EMB.embed([chunk_search_text("", c.heading, c.text) for c in (index.chunk(i) for i in ids)])
    scores = matrix.astype(np.float16).astype(np.float32) @ EMB.embed([query])[0]
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], rowids[ids[i]]))[:k]]


def test_below_the_threshold_the_index_stays_exact_flat(tmp_path):
    build(tmp_path / "idx", corpus(99))
    index = Index.open(tmp_path / "idx", EMB)
    recorded = index.manifest["vector_index"]
    assert (recorded["kind"], recorded["factory"], recorded["min_vectors"]) == ("ivfpq", "IDMap2,Flat", 100)
    assert "training" not in recorded
    assert not (index.gen_dir / EXACT_VECTORS).exists()


def test_above_the_threshold_it_is_trained_and_recorded(tmp_path):
    build(tmp_path / "idx", corpus(150))
    index = Index.open(tmp_path / "idx", EMB)
    recorded = index.manifest["vector_index"]
    assert recorded["factory"] == FACTORY
    assert recorded["training"] == {"factory": FACTORY, "vectors": 150, "sample": 150, "sample_seed": vectors.TRAIN_SEED,
                                    "sample_of": "uniform over the vectors sorted by id"}
    assert (recorded["nprobe"], recorded["refine_factor"]) == (None, None)  # left to vectors.search_defaults
    assert recorded["train_factory"] == FACTORY
    assert set(index.manifest["checksums"]) >= {EXACT_VECTORS, VECTOR_IDS}
    assert vectors.is_compressed(index._vectors) and index.vector_count == 150


def test_all_lists_and_full_refinement_give_the_exact_float16_ranking(tmp_path):
    build(tmp_path / "idx", corpus(150))
    wide = vectors.VectorSettings(nprobe=8, refine_factor=15)  # 10 x 15 candidates >= all 150 vectors
    index = Index.open(tmp_path / "idx", EMB, vector_settings=wide)
    for query in ("w1 w2 w3", "w40 w41", "w7 w7 w59 w0"):
        assert [h.chunk.chunk_id for h in index.search(query, k=10, mode="dense")] == float16_ranking(index, query, 10)


def test_without_refinement_scores_are_the_compressed_approximation(tmp_path):
    build(tmp_path / "idx", corpus(150))
    raw = Index.open(tmp_path / "idx", EMB, vector_settings=vectors.VectorSettings(nprobe=8, refine_factor=0))
    refined = Index.open(tmp_path / "idx", EMB, vector_settings=vectors.VectorSettings(nprobe=8, refine_factor=15))
    approx = [h.dense_score for h in raw.search("w1 w2 w3", k=5, mode="dense")]
    exact = [h.dense_score for h in refined.search("w1 w2 w3", k=5, mode="dense")]
    assert approx != exact  # 4-bit codes are lossy; re-scoring returns the stored vectors' cosines


def test_deletes_and_incremental_adds_keep_ids_stable(tmp_path):
    path = build(tmp_path / "idx", corpus(150))
    before = chunk_rowids(Index.open(path, EMB))
    assert delete_document(path, "d010")
    add_documents(path, EMB, [make_doc("new", "w1 w2 w3 w1 w2 w3 w1.")])
    index = Index.open(path, EMB, vector_settings=vectors.VectorSettings(nprobe=8, refine_factor=15))
    after = chunk_rowids(index)
    expected = {c: r for c, r in before.items() if c != "d010#0"}
    assert {c: r for c, r in after.items() if c != "new#0"} == expected
    assert after["new#0"] > max(before.values())
    assert index.manifest["vector_index"]["factory"] == FACTORY  # trained once, new vectors encoded with it
    assert index.vector_count == len(index._exact.ids) == 150
    assert list(index._exact.ids) == sorted(after.values())
    hits = index.search("w1 w2 w3", k=150, mode="dense")
    assert hits[0].chunk.chunk_id == "new#0"
    assert "d010#0" not in {h.chunk.chunk_id for h in hits}


def test_opening_refuses_another_vector_kind(tmp_path):
    build(tmp_path / "idx", corpus(150))
    with pytest.raises(IndexMismatch, match="built with vector index ivfpq"):
        Index.open(tmp_path / "idx", EMB, vector_settings=vectors.VectorSettings(kind="flat"))


def test_opening_refuses_a_factory_the_vectors_do_not_have(tmp_path):
    build(tmp_path / "idx", corpus(150))
    manifest_path = live_generation(tmp_path / "idx") / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["vector_index"]["factory"] = "IVF16,PQ16x4"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="vectors are IVF8,PQ16x4 but its manifest records IVF16,PQ16x4"):
        Index.open(tmp_path / "idx", EMB)


def test_a_flat_index_turns_compressed_when_it_crosses_the_threshold(tmp_path):
    path = build(tmp_path / "idx", corpus(90))
    assert Index.open(path, EMB).manifest["vector_index"]["factory"] == "IDMap2,Flat"
    add_documents(path, EMB, corpus(140, seed=8)[90:])
    index = Index.open(path, EMB)
    assert index.manifest["vector_index"]["training"]["vectors"] == 140
    assert index.manifest["vector_index"]["factory"] == FACTORY


def test_compressed_vectors_cannot_be_turned_back_into_flat(tmp_path):
    build(tmp_path / "idx", corpus(150))
    with pytest.raises(ValueError, match="cannot be turned back into flat"):
        with IndexWriter(tmp_path / "idx", EMB, kind="flat"):
            pass


def test_default_factory_follows_corpus_size():
    assert vectors.compressed_factory(100_000, 384) == "IVF256,PQ48"
    assert vectors.compressed_factory(1_000_000, 384) == "IVF1024,PQ48"
    assert vectors.compressed_factory(10_000_000, 384) == "IVF1024,PQ48"
    assert vectors.training_size("IVF1024,PQ48", 10_000_000) == 39 * 1024
