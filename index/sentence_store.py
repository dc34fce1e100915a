"""Sentence spans and one vector per sentence, written with each generation.

Spans live in store.sqlite (table `sentences`: chunk rowid, ordinal, offsets into Chunk.text, vector row,
resolved citations as JSON), so they commit with the chunks they belong to. Vectors live in
`sentences.npy`, a float16 [rows, dim] matrix that the service maps with numpy (mmap_mode="r"): serving RSS
grows only with the rows an answer touches. float16 halves the file, its checksum time and the page cache
against float32; its rounding (relative 2^-11, |cosine error| < 1e-3) is far below the int8 model's own
difference from fp32 (cosine 0.995, README), so no ranking signal is lost.

A row is shared by every stored sentence with the same text (the 1-sentence chunk overlap, repeated
boilerplate across documents): each text is embedded once. Rows no sentence refers to any more (deleted
documents) are dropped and the rest renumbered at commit, so removed documents leave nothing behind.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from ingest.documents import Chunk, CitedWork
from ingest.references import is_reference_heading
from ingest.sentences import sentence_spans

SENTENCE_DTYPE = np.float16

SENTENCE_SCHEMA = """
CREATE TABLE IF NOT EXISTS sentences (
    chunk_rowid INTEGER NOT NULL,  -- chunks.id
    ordinal INTEGER NOT NULL,      -- position of the sentence in its chunk
    start_char INTEGER NOT NULL, end_char INTEGER NOT NULL,  -- offsets into chunks.text
    row INTEGER NOT NULL,          -- row of its vector in sentences.npy
    cites TEXT NOT NULL DEFAULT '[]',  -- JSON [[marker, text, doi, pmid], ...]
    PRIMARY KEY (chunk_rowid, ordinal)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS document_references (  -- each document's own reference list, entries verbatim
    doc_id TEXT NOT NULL, ordinal INTEGER NOT NULL, number TEXT NOT NULL DEFAULT '',  -- printed number or ''
    text TEXT NOT NULL, doi TEXT NOT NULL DEFAULT '', pmid TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (doc_id, ordinal)
) WITHOUT ROWID;
"""


def chunk_sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The spans stored for a chunk: the same split the answer path used at question time; none for a
    reference list (its entries are not evidence, and the answer path never quoted them)."""
    if is_reference_heading(chunk.heading):
        return []
    return sentence_spans(chunk.text)


def cites_to_json(cites: tuple[CitedWork, ...]) -> str:
    """A sentence's resolved citations as compact JSON."""
    return json.dumps([[c.marker, c.text, c.doi, c.pmid] for c in cites], ensure_ascii=False) if cites else "[]"


def cites_from_json(text: str) -> tuple[CitedWork, ...]:
    """The inverse of cites_to_json."""
    return tuple(CitedWork(*entry) for entry in json.loads(text)) if text != "[]" else ()


def load_matrix(path: Path) -> np.ndarray:
    """A generation's sentence vectors, memory-mapped read-only."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


class SentenceWriter:
    """Collects the sentences of one writer session: rows shared by text, vectors embedded once per text."""

    def __init__(self, dim: int, base: np.ndarray | None = None):
        self.dim = dim
        self.base = base if base is not None else np.zeros((0, dim), SENTENCE_DTYPE)
        self.new: list[np.ndarray] = []  # float16 blocks appended after the base rows
        self.rows = len(self.base)
        self.row_of_text: dict[str, int] = {}  # texts embedded in this session (a shared row each)

    def plan(self, chunks: list[Chunk]) -> tuple[list[list[tuple[int, int, int]]], list[str]]:
        """Per chunk its (start, end, row) sentences, and the new texts to embed for rows after self.rows."""
        per_chunk, new_texts = [], []
        for chunk in chunks:
            spans = []
            for s, e in chunk_sentence_spans(chunk):
                text = chunk.text[s:e]
                row = self.row_of_text.get(text)
                if row is None:
                    row = self.rows + len(new_texts)
                    self.row_of_text[text] = row
                    new_texts.append(text)
                spans.append((s, e, row))
            per_chunk.append(spans)
        return per_chunk, new_texts

    def add_vectors(self, vecs: np.ndarray) -> None:
        """Append the vectors of the texts `plan` returned, in that order."""
        if len(vecs):
            self.new.append(np.asarray(vecs, dtype=SENTENCE_DTYPE))
            self.rows += len(vecs)

    def forget(self, row_map: np.ndarray) -> None:
        """After compaction: keep the text -> row map only for rows that survived, renumbered."""
        self.row_of_text = {t: int(row_map[r]) for t, r in self.row_of_text.items() if row_map[r] >= 0}

    def save(self, conn: sqlite3.Connection, path: Path) -> int:
        """Drop unreferenced rows (renumbering the table), write the matrix to path; returns its row count."""
        used = np.array([r for (r,) in conn.execute("SELECT DISTINCT row FROM sentences ORDER BY row")], np.int64)
        row_map = np.full(self.rows, -1, np.int64)
        row_map[used] = np.arange(len(used))
        if len(used) != self.rows:
            renumber(conn, used, row_map)
            self.forget(row_map)
        out = np.lib.format.open_memmap(path, mode="w+", dtype=SENTENCE_DTYPE, shape=(len(used), self.dim))
        from_base = used[used < len(self.base)]
        out[:len(from_base)] = self.base[from_base]
        if self.new:
            new = np.concatenate(self.new)
            out[len(from_base):] = new[used[used >= len(self.base)] - len(self.base)]
        out.flush()
        del out
        self.base = load_matrix(path)
        self.new = []
        self.rows = len(used)
        return len(used)


def renumber(conn: sqlite3.Connection, used: np.ndarray, row_map: np.ndarray) -> None:
    """Point every sentence at its row's new number (one UPDATE joined with a temporary map)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS row_map (old INTEGER PRIMARY KEY, new INTEGER NOT NULL)")
    conn.execute("DELETE FROM row_map")
    moved = [(int(r), int(row_map[r])) for r in used if row_map[r] != r]
    conn.executemany("INSERT INTO row_map(old, new) VALUES (?, ?)", moved)
    conn.execute("UPDATE sentences SET row = row_map.new FROM row_map WHERE sentences.row = row_map.old")
    conn.execute("DROP TABLE row_map")
