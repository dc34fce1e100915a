"""Exact re-scoring vectors read with pread (equal to the memory-mapped rows, never mapped) and the default
nprobe / refine factor sized from the index (recorded as null, resolved at open, explicit values win)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import vectors
from index.embedder import FakeEmbedder
from index.manifest import EXACT_VECTORS, MANIFEST, VECTOR_IDS, live_generation
from index.store import Index
from service.pipeline import add_documents
from tests.index_helpers import make_doc

EMB = FakeEmbedder()
WORDS = [f"w{i}" for i in range(60)]


def saved(tmp_path: Path, n: int, dim: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Write n random float16 rows with ascending, gapped ids; returns (ids, float16 rows)."""
    rng = np.random.default_rng(seed)
    ids = np.cumsum(rng.integers(1, 5, n)).astype(np.int64)
    rows = rng.standard_normal((n, dim)).astype(vectors.EXACT_DTYPE)
    vectors.save_exact(tmp_path, [(ids[: n // 2], rows[: n // 2]), (ids[n // 2:], rows[n // 2:])], dim)
    return ids, rows


def mapped_rows(tmp_path: Path, ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """What the memory-mapped reader returned: rows of the mapped file at those ids, as float32."""
    matrix = np.load(tmp_path / EXACT_VECTORS, mmap_mode="r")
    return matrix[np.searchsorted(ids, wanted)].astype(np.float32)


@pytest.mark.parametrize("dim", [384, 7])  # 768-byte rows (5 a page) and 14-byte rows (292 a page)
def test_pread_rows_and_scores_equal_the_memory_mapped_ones(tmp_path, dim):
    ids, _ = saved(tmp_path, 3000, dim)
    exact = vectors.ExactVectors.load(tmp_path)
    rng = np.random.default_rng(dim)
    query = rng.standard_normal(dim).astype(np.float32)
    asks = [ids[[0]], ids[[-1]], ids[[5, 4, 3, 2, 1]],  # neighbours, descending
            ids[[-1, 0, 1500, 1500, 7]],  # duplicates and both ends
            rng.choice(ids, 200), rng.choice(ids, 2000), ids, ids[:0]]
    for wanted in asks:
        got = exact.vectors(wanted)
        assert got.dtype == np.float32 and got.shape == (len(wanted), dim)
        assert np.array_equal(got, mapped_rows(tmp_path, ids, wanted))
        assert np.array_equal(exact.scores(query, wanted), mapped_rows(tmp_path, ids, wanted) @ query)


def test_in_memory_rows_read_like_saved_ones(tmp_path):
    ids, rows = saved(tmp_path, 500, 16)
    wanted = ids[[9, 3, 400, 3]]
    assert np.array_equal(vectors.ExactVectors(ids, rows).vectors(wanted),
                          vectors.ExactVectors.load(tmp_path).vectors(wanted))
    assert np.array_equal(np.asarray(vectors.ExactVectors.load(tmp_path).matrix), rows)  # what a writer copies


def test_unknown_ids_and_a_truncated_file_are_errors(tmp_path):
    ids, _ = saved(tmp_path, 100, 8)
    exact = vectors.ExactVectors.load(tmp_path)
    with pytest.raises(KeyError):
        exact.vectors(np.array([ids[-1] + 1]))
    path = tmp_path / EXACT_VECTORS
    path.write_bytes(path.read_bytes()[:-8])  # the last row loses half its bytes
    with pytest.raises(OSError, match="short read"):
        vectors.ExactVectors.load(tmp_path).vectors(ids[-1:])
    with pytest.raises(ValueError, match="vector ids for"):
        vectors.ExactVectors(ids[:-1], np.zeros((100, 8), np.float16))


def mapped_files() -> str:
    """This process's memory mappings (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        pytest.skip("needs /proc/self/maps")
    return maps.read_text()


def build(path: Path, n: int = 150, **settings) -> Path:
    """An ivfpq index of n one-chunk documents (trained: 8 lists, 4-bit codes)."""
    rng = np.random.default_rng(7)
    docs = [make_doc(f"d{i:03d}", " ".join(rng.choice(WORDS, 12)) + ".") for i in range(n)]
    add_documents(path, EMB, docs, vector_settings=vectors.VectorSettings(kind="ivfpq", min_vectors=100,
                                                                          factory="IVF8,PQ16x4", **settings))
    return path


def test_serving_reads_exact_vectors_without_mapping_them(tmp_path):
    index = Index.open(build(tmp_path / "idx"), EMB)
    assert index.search("w1 w2 w3", k=5, mode="dense")
    assert index._refine_factor > 1  # the search re-scored candidates from the file
    maps = mapped_files()
    assert str(index.gen_dir / VECTOR_IDS) in maps  # (the check sees mapped index files)
    assert str(index.gen_dir / EXACT_VECTORS) not in maps


def test_default_refine_factor_grows_with_the_vectors_per_list():
    rule = vectors.default_refine_factor
    assert rule(100_000 / 256) == rule(1_000_000 / 1024) == vectors.REFINE_FACTOR_MIN  # up to ~1,000 a list
    assert rule(vectors.REFINE_LIST_VECTORS) == vectors.REFINE_FACTOR_MIN
    assert rule(2 * vectors.REFINE_LIST_VECTORS) == 2 * vectors.REFINE_FACTOR_MIN
    # 10M vectors in the capped 1,024 lists: ~10x the candidates of 1M
    assert rule(10_000_000 / vectors.IVF_NLIST_MAX) == 79
    assert all(rule(a) <= rule(b) for a, b in zip(range(0, 20_000, 50), range(50, 20_050, 50)))


def test_a_new_index_leaves_nprobe_and_refinement_to_the_rule(tmp_path):
    index = Index.open(build(tmp_path / "idx"), EMB)
    recorded = index.manifest["vector_index"]
    assert (recorded["nprobe"], recorded["refine_factor"]) == (None, None)
    per_list = index._vectors.ntotal / 8
    assert (index._nprobe, index._refine_factor) == (vectors.NPROBE_DEFAULT, vectors.default_refine_factor(per_list))
    assert vectors.search_defaults(index._vectors) == (index._nprobe, index._refine_factor)


def test_rule_follows_the_vectors_per_list(tmp_path, monkeypatch):
    # 150 vectors in 8 lists, ~19 a list: with a reference of 4 a list the rule asks for 8 x 19 / 4 = 38
    monkeypatch.setattr(vectors, "REFINE_LIST_VECTORS", 4)
    index = Index.open(build(tmp_path / "idx"), EMB)
    assert index._refine_factor == int(np.ceil(8 * 150 / 8 / 4)) == 38


def test_settings_and_recorded_values_win_over_the_rule(tmp_path):
    path = build(tmp_path / "idx", nprobe=3, refine_factor=2)
    index = Index.open(path, EMB)
    assert (index._nprobe, index._refine_factor) == (3, 2)  # recorded at ingest
    index = Index.open(path, EMB, vector_settings=vectors.VectorSettings(nprobe=5, refine_factor=0))
    assert (index._nprobe, index._refine_factor) == (5, 0)  # serving settings, 0 included
    manifest_path = live_generation(path) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["vector_index"].update(nprobe=32, refine_factor=8)  # what manifests before the rule recorded
    manifest_path.write_text(json.dumps(manifest))
    assert (Index.open(path, EMB, verify=False)._nprobe, Index.open(path, EMB, verify=False)._refine_factor) == (32, 8)
