"""Lexical retrieval: SQLite FTS5 with BM25 scoring over (title, heading, text) of every chunk."""
from __future__ import annotations

import re
import sqlite3

# Column weights for bm25(): a title match says more about a chunk's topic than a body match.
COLUMN_WEIGHTS = (2.0, 1.5, 1.0)

TOKENIZE = "porter unicode61 remove_diacritics 2"
FTS_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(
    title, heading, text, tokenize = '{TOKENIZE}'
)
"""

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
""".split())

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """Lower-cased word tokens of a question without stopwords, each once, in order."""
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(text.lower()):
        if tok not in STOPWORDS:
            seen.setdefault(tok, None)
    return list(seen)


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH string that ORs every quoted term; None when nothing is left to match.

    Quoting each token (with inner quotes doubled) means no user input is parsed as FTS5 syntax.
    """
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def bm25_search(conn: sqlite3.Connection, query: str, k: int,
                allowed_sql: str | None = None, params: tuple = ()) -> list[tuple[int, float]]:
    """(chunk rowid, BM25 score, higher is better) of the k best chunks; `allowed_sql` restricts rowids."""
    expr = match_expression(query)
    if expr is None or k <= 0:
        return []
    where = f" AND rowid IN ({allowed_sql})" if allowed_sql else ""
    sql = (f"SELECT rowid, bm25(chunks_fts, {', '.join(map(str, COLUMN_WEIGHTS))}) AS s "
           f"FROM chunks_fts WHERE chunks_fts MATCH ?{where} ORDER BY s LIMIT ?")
    try:
        rows = conn.execute(sql, (expr, *params, k)).fetchall()
    except sqlite3.OperationalError:  # never let a strange query escape as an FTS5 syntax error
        return []
    return [(int(r), -float(s)) for r, s in rows]
