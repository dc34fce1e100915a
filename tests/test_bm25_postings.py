"""BM25 from postings equals FTS5's bm25() exactly; incremental updates equal a fresh build."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import bm25, bm25_postings
from index.bm25_postings import Postings, build_postings, query_phrases
from index.build import IndexWriter, delete_document
from service.pipeline import add_documents
from index.embedder import FakeEmbedder
from index.manifest import MANIFEST, POSTINGS, live_generation
from index.store import SCHEMA, Index
from index.types import Filters
from tests.index_helpers import LITERAL, make_doc

EMB = FakeEmbedder()
WORDS = ["pain", "pains", "painful", "back", "buttock", "buttocks", "cause", "causes", "caused", "sciatica",
         "nerve", "joint", "the", "of", "and", "hip", "lumbar", "spine", "é", "café", "cafe", "disc", "discs"]


def fts_ranking(conn: sqlite3.Connection, query: str) -> list[tuple[int, float]]:
    """FTS5's own BM25 over every matching row, ties ordered by rowid."""
    return sorted(bm25.bm25_search(conn, query, 10**6), key=lambda rs: (-rs[1], rs[0]))


def memory_store(rows: list[tuple[str, str, str]]) -> sqlite3.Connection:
    """An in-memory store whose FTS5 table holds the given (title, heading, text) rows."""
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO chunks_fts(title, heading, text) VALUES (?, ?, ?)", rows)
    return conn


def test_scores_equal_fts5_bm25_exactly():
    rng = np.random.default_rng(3)
    rows = [(" ".join(rng.choice(WORDS, 2)), " ".join(rng.choice(WORDS, 3)), " ".join(rng.choice(WORDS, n)))
            for n in rng.integers(1, 60, 120)]
    conn = memory_store(rows)
    postings = build_postings(conn)
    queries = ["What causes buttock pain?", "cause causes caused", "back", "café sciatica disc", "hip spine",
               "the of and", "nothing matches zzz", "painful painful lumbar nerve joint"]
    for query in queries:
        expected = fts_ranking(conn, query)
        assert postings.search(query_phrases(query), 10**6) == expected, query
    # "cause causes caused" are three phrases of one token: FTS5 counts each, so must we
    assert query_phrases("cause causes caused") == ["caus", "caus", "caus"]
    assert postings.search(query_phrases("What causes buttock pain?"), 5) == fts_ranking(conn, "What causes buttock pain?")[:5]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "Back pain", "Sciatica"]), st.sampled_from(["", "Causes", "What is it?"]),
                          st.lists(st.sampled_from(WORDS), min_size=0, max_size=30).map(" ".join)),
                min_size=1, max_size=25),
       st.lists(st.sampled_from(WORDS + ["zzz"]), min_size=1, max_size=6).map(" ".join))
def test_any_corpus_and_query_scores_equal_fts5(rows, query):
    conn = memory_store(rows)
    assert build_postings(conn).search(query_phrases(query) or [], 10**6) == \
        (fts_ranking(conn, query) if query_phrases(query) else [])


def test_incremental_update_equals_fresh_build():
    conn = memory_store([("A", "h", "back pain and sciatica"), ("B", "", "hip joint pain"), ("C", "x", "discs")])
    base = build_postings(conn)
    conn.execute("DELETE FROM chunks_fts WHERE rowid = 2")
    conn.executemany("INSERT INTO chunks_fts(title, heading, text) VALUES (?, ?, ?)",
                     [("D", "", "lumbar spine nerve pain pain"), ("Café", "é", "new words only here")])
    updated, fresh = build_postings(conn, base), build_postings(conn)
    assert updated.terms == fresh.terms
    for name in ("ptr", "pos", "freq", "rows", "doclen"):
        assert np.array_equal(getattr(updated, name), getattr(fresh, name)), name
    assert updated.rows.tolist() == [1, 3, 4, 5]
    # "hip" and "joint" were only in the deleted row
    assert "hip" not in updated.terms and "joint" not in updated.terms


def test_writer_keeps_postings_in_step_with_the_store(tmp_path):
    root = tmp_path / "idx"
    add_documents(root, EMB, LITERAL)
    add_documents(root, EMB, [make_doc("gout", "Gout now says something else about purines.", "Gout")])
    delete_document(root, "flu")
    gen = live_generation(root)
    manifest = json.loads((gen / MANIFEST).read_text())
    assert POSTINGS in manifest["checksums"]
    saved = Postings.load(gen / POSTINGS)
    conn = sqlite3.connect(gen / "store.sqlite")
    fresh = build_postings(conn)
    assert saved.terms == fresh.terms and np.array_equal(saved.freq, fresh.freq) and np.array_equal(saved.rows, fresh.rows)
    index = Index.open(root, EMB)
    for query in ("What is influenza?", "gout purines", "glucose insulin joints", "asthma"):
        got = [(h.chunk.chunk_id, h.bm25_score) for h in index.search(query, k=10, mode="bm25")]
        want = [(index._rows("SELECT chunk_id FROM chunks WHERE id = ?", (r,))[0][0], s) for r, s in fts_ranking(conn, query)][:10]
        assert got == want, query
    assert [h.document.doc_id for h in index.search("influenza", k=5, mode="bm25")] == []


def test_filters_restrict_postings_search(tmp_path):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    index = Index.open(tmp_path / "idx", EMB)
    hits = index.search("glucose insulin joints", k=5, mode="bm25", filters=Filters(types=("research",)))
    assert [h.document.doc_id for h in hits] == ["gout"]


def test_term_fts5_splits_goes_to_fts5(tmp_path):
    # U+19B0 is a word character to Python's regex but a separator to FTS5's unicode61 tokenizer
    assert query_phrases("ab\u19b0cd pain") is None
    add_documents(tmp_path / "idx", EMB, [make_doc("x", "The ab cd pain sentence is here.", "X")])
    index = Index.open(tmp_path / "idx", EMB)
    assert [h.document.doc_id for h in index.search("ab\u19b0cd", k=3, mode="bm25")] == ["x"]


def test_index_written_without_postings_still_searches(tmp_path):
    root = tmp_path / "idx"
    add_documents(root, EMB, LITERAL)
    before = [(h.chunk.chunk_id, h.bm25_score) for h in Index.open(root, EMB).search("glucose joints", k=5, mode="bm25")]
    gen = live_generation(root)
    manifest = json.loads((gen / MANIFEST).read_text())
    del manifest["checksums"][POSTINGS]
    (gen / MANIFEST).write_text(json.dumps(manifest))
    (gen / POSTINGS).unlink()
    index = Index.open(root, EMB)
    assert index._postings is None
    assert [(h.chunk.chunk_id, h.bm25_score) for h in index.search("glucose joints", k=5, mode="bm25")] == before
    # the next write builds the postings from scratch
    add_documents(root, EMB, [make_doc("new", "Sciatica follows the nerve.", "Sciatica")])
    assert Index.open(root, EMB)._postings is not None


def test_postings_with_other_column_weights_are_not_used(tmp_path, monkeypatch):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    gen = live_generation(tmp_path / "idx")
    monkeypatch.setattr("index.bm25_postings.COLUMN_WEIGHTS", (1.0, 1.0, 1.0))
    assert Postings.load(gen / POSTINGS) is None


def test_mismatched_postings_are_reported_corrupt(tmp_path):
    root = tmp_path / "idx"
    add_documents(root, EMB, LITERAL)
    gen = live_generation(root)
    conn = memory_store([("only", "", "one row")])
    build_postings(conn).save(gen / POSTINGS)
    from index.errors import IndexCorrupt

    with pytest.raises(IndexCorrupt, match="checksum"):
        Index.open(root, EMB)
    with pytest.raises(IndexCorrupt, match="BM25 postings for 1 rows"):
        Index.open(root, EMB, verify=False)


def test_bench_compares_both_engines_on_real_index(tmp_path):
    from eval.bench_bm25 import compare

    add_documents(tmp_path / "idx", EMB, LITERAL)
    result = compare(Index.open(tmp_path / "idx", EMB), ["What is influenza?", "gout joints", "ab\u19b0cd"], k=10)
    assert (result["questions"], result["differ"], result["fts5_fallback"]) == (3, 0, 1)


def test_writer_without_changes_writes_nothing(tmp_path):
    root = tmp_path / "idx"
    add_documents(root, EMB, LITERAL)
    gen = live_generation(root)
    with IndexWriter(root, EMB):
        pass
    assert live_generation(root) == gen


@pytest.mark.parametrize("sparse_fraction", [0, 10**9])  # scores over touched rows only / over every row
def test_memory_mapped_postings_score_exactly_like_fts5(tmp_path, monkeypatch, sparse_fraction):
    monkeypatch.setattr(bm25_postings, "SPARSE_FRACTION", sparse_fraction)
    rng = np.random.default_rng(4)
    rows = [(" ".join(rng.choice(WORDS, 2)), "", " ".join(rng.choice(WORDS, n))) for n in rng.integers(1, 40, 80)]
    conn = memory_store(rows)
    build_postings(conn).save(tmp_path / POSTINGS)
    mapped = Postings.load(tmp_path / POSTINGS, mmap_bytes=0)
    read = Postings.load(tmp_path / POSTINGS)
    assert mapped.mapped and not read.mapped
    for query in ("What causes buttock pain?", "café sciatica disc", "the of and", "hip"):
        assert mapped.search(query_phrases(query), 10**6) == fts_ranking(conn, query), query
    allowed = np.array([3, 5, 8, 13, 21, 34], dtype=np.int64)
    assert mapped.search(query_phrases("pain back"), 4, allowed) == \
        [rs for rs in fts_ranking(conn, "pain back") if rs[0] in allowed][:4]


def test_index_maps_postings_above_its_threshold(tmp_path):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    assert Index.open(tmp_path / "idx", EMB, postings_mmap_bytes=0)._postings.mapped
    assert not Index.open(tmp_path / "idx", EMB)._postings.mapped
