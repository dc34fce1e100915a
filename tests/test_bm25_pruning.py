"""MaxScore-pruned BM25 top-k equals the exhaustive top-k: the same rowids, the same scores (==), ties by rowid."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import bm25_postings
from index.bm25_postings import Postings, build_postings, query_phrases
from index.store import SCHEMA
from tests.test_bm25_postings import WORDS, fts_ranking, memory_store


def random_postings(seed: int, n: int, vocab: int, copies: int = 1) -> Postings:
    """Postings of n rows over `vocab` terms with Zipf-like document frequencies; every row repeated `copies`
    times (identical rows: identical scores, so ties at every rank)."""
    rng = np.random.default_rng(seed)
    distinct = max(1, n // copies)
    df = np.minimum(distinct, np.maximum(1, (distinct * 0.6 / np.arange(1, vocab + 1) ** 0.9).astype(int)))
    length = rng.integers(1, 80, distinct)
    term_rows = [np.sort(rng.choice(distinct, d, replace=False)) for d in df]
    freq = [rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 4.5, 7.0], d) for d in df]
    base = np.arange(distinct).repeat(copies)[:n]  # row i copies distinct row base[i]
    members = [np.flatnonzero(base == b) for b in range(distinct)]
    pos, fr, ptr = [], [], [0]
    for r, f in zip(term_rows, freq):
        rows = np.concatenate([members[b] for b in r])
        order = np.argsort(rows, kind="stable")
        pos.append(rows[order])
        fr.append(np.repeat(f, [len(members[b]) for b in r])[order])
        ptr.append(ptr[-1] + len(rows))
    return Postings(tuple(f"t{i:04d}" for i in range(vocab)), np.array(ptr, np.int64),
                    np.concatenate(pos).astype(np.int32), np.concatenate(fr), np.arange(10, 10 + n, dtype=np.int64),
                    length[base].astype(np.int64))


def assert_same(postings: Postings, phrases: list[str], k: int, allowed=None) -> list:
    exhaustive = postings.search(phrases, k, allowed, prune=False)
    pruned = postings.search(phrases, k, allowed, prune=True)
    assert pruned == exhaustive, (phrases, k)
    return pruned


def test_literal_corpus_with_ties_equals_fts5_and_exhaustive():
    rows = [("Back pain", "Causes", "pain in the back and the buttock"),
            ("Sciatica", "", "sciatica is nerve pain"),
            ("Back pain", "Causes", "pain in the back and the buttock"),  # same text as row 1: a tie
            ("Hip", "joint", "hip joint pain pain pain"),
            ("Back pain", "Causes", "pain in the back and the buttock"),
            ("Café", "é", "café cafe lumbar spine disc discs"),
            ("", "", "pain"), ("", "", "pain"), ("", "", "pain"), ("", "", "back")]
    conn = memory_store(rows * 3)
    postings = build_postings(conn)
    for query in ("What causes buttock pain?", "pain", "back pain", "sciatica nerve", "cause causes caused",
                  "café disc pain", "zzz pain"):
        full = fts_ranking(conn, query)
        for k in (1, 2, 3, 4, 7, 10, 30):
            assert assert_same(postings, query_phrases(query), k) == full[:k], (query, k)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "Back pain", "Sciatica"]), st.sampled_from(["", "Causes", "What is it?"]),
                          st.lists(st.sampled_from(WORDS), min_size=0, max_size=30).map(" ".join)),
                min_size=1, max_size=25),
       st.integers(1, 4),
       st.lists(st.sampled_from(WORDS + ["zzz"]), min_size=1, max_size=6).map(" ".join),
       st.integers(1, 12))
def test_any_corpus_pruned_equals_fts5(rows, copies, query, k):
    conn = memory_store(rows * copies)  # copies: whole-corpus repeats, so scores tie
    phrases = query_phrases(query)
    if phrases is None:
        return
    assert assert_same(build_postings(conn), phrases, k) == fts_ranking(conn, query)[:k]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.lists(st.integers(0, 59), min_size=1, max_size=7),
       st.sampled_from([1, 5, 10, 100]), st.booleans(), st.sampled_from([0, 2]))
def test_generated_postings_pruned_equals_exhaustive(seed, copies, terms, k, filtered, share):
    postings = random_postings(seed, 3000, 60, copies)
    bm25_postings.ESSENTIAL_SHARE, saved = share, bm25_postings.ESSENTIAL_SHARE  # 0: never fall back
    allowed = None
    if filtered:  # a filter: some rowids, some of them not rows at all
        allowed = np.random.default_rng(seed).choice(np.arange(0, 3100), 900, replace=False)
    try:
        assert_same(postings, [f"t{t:04d}" for t in terms] + ["nope"], k, allowed)
    finally:
        bm25_postings.ESSENTIAL_SHARE = saved


@pytest.mark.parametrize("knobs", [{}, {"SEED_SCAN": 64, "ESSENTIAL_SHARE": 0, "LOOKUP_COST": 0},
                                   {"SEED_SCAN": 300, "ESSENTIAL_SHARE": 0, "LOOKUP_COST": 10**9}])
def test_every_candidate_path_and_duplicate_terms(knobs, monkeypatch):
    # knobs: sampled seeds, no fallback to the exhaustive path, all scatters / all binary searches
    for name, value in knobs.items():
        monkeypatch.setattr(bm25_postings, name, value)
    postings = random_postings(7, 20_000, 400, copies=3)
    # one essential list; several (sparse union of rare terms); several (scratch array, frequent terms);
    # a term named twice counts twice
    for terms in ([399, 0], [300, 301, 350, 0, 1], [0, 1, 2, 3], [5, 5, 0], [0], [399], [2, 250, 2, 250]):
        for k in (1, 10, 100, 1000):
            assert_same(postings, [f"t{t:04d}" for t in terms], k)


def test_pruning_looks_up_fewer_rows_than_the_frequent_terms_hold(monkeypatch):
    postings = random_postings(3, 20_000, 400)
    looked = []
    original = Postings._lookup

    def counting(self, s, e, idf, cand):
        looked.append(len(cand))
        return original(self, s, e, idf, cand)

    monkeypatch.setattr(Postings, "_lookup", counting)
    phrases = ["t0000", "t0001", "t0390"]  # two terms in most rows, one rare
    assert postings.frequency("t0000") > 5000
    assert_same(postings, phrases, 10)
    assert max(looked) < postings.frequency("t0390") + 100


def test_bounds_are_stored_and_missing_bounds_are_computed(tmp_path):
    postings = random_postings(11, 2000, 50)
    postings.save(tmp_path / "bm25.npz")
    for mmap_bytes in (1 << 40, 0):
        loaded = Postings.load(tmp_path / "bm25.npz", mmap_bytes=mmap_bytes)
        assert np.array_equal(loaded.wmax, postings.bounds())
    for t in range(50):  # the bound is the largest contribution, reached by a posting
        s, e = postings.ptr[t], postings.ptr[t + 1]
        w = postings._weights(postings.freq[s:e], postings.pos[s:e])
        assert postings._term_wmax(t) == w.max()
    stored = Postings.load(tmp_path / "bm25.npz")
    for terms in (["t0000", "t0040"], ["t0001", "t0002", "t0049"]):
        assert stored.search(terms, 10, prune=True) == postings.search(terms, 10, prune=False)


def test_default_search_prunes_large_queries(monkeypatch):
    postings = random_postings(5, 5000, 40)
    calls = []
    original = Postings._search_pruned
    monkeypatch.setattr(Postings, "_search_pruned", lambda self, *a: calls.append(1) or original(self, *a))
    phrases = ["t0000", "t0001", "t0030"]
    monkeypatch.setattr(bm25_postings, "PRUNE_POSTINGS", 10**9)
    small = postings.search(phrases, 10)
    assert not calls
    monkeypatch.setattr(bm25_postings, "PRUNE_POSTINGS", 1)
    assert postings.search(phrases, 10) == small and calls


def test_writer_files_carry_bounds(tmp_path):
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO chunks_fts(title, heading, text) VALUES (?, ?, ?)",
                     [("A", "", "back pain"), ("B", "h", "pain pain sciatica")])
    build_postings(conn).save(tmp_path / "p.npz")
    loaded = Postings.load(tmp_path / "p.npz")
    assert loaded.wmax is not None and len(loaded.wmax) == len(loaded.terms)
    assert np.all(loaded.wmax > 0)


@pytest.mark.parametrize("k", [1, 3])
def test_filter_that_allows_nothing(k):
    postings = random_postings(2, 1000, 20)
    assert postings.search(["t0000", "t0005"], k, np.array([5, 6]), prune=True) == []
