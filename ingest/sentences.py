"""Sentence spans, shared by chunking (ingest) and evidence selection (answers).

blingfire is the segmenter: a maintained finite-state tokenizer that handles
abbreviations, decimals and citations, and is ~50x faster than pysbd, which
matters on 16,000-article collections.
"""
from __future__ import annotations

import re

import blingfire

_BLOCK_BREAK = re.compile(r"\n[ \t]*\n+")


def _blocks(text: str, start: int, end: int):
    """Yield (start, end) of paragraph-like blocks: a blank line always ends a sentence."""
    pos = start
    for m in _BLOCK_BREAK.finditer(text, start, end):
        yield pos, m.start()
        pos = m.end()
    yield pos, end


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Character spans of the sentences in text[start:end], whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for b_start, b_end in _blocks(text, start, end):
        block = text[b_start:b_end]
        if not block.strip():
            continue
        _, offsets = blingfire.text_to_sentences_and_offsets(block)
        for s, e in offsets:
            piece = block[s:e]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if e - s - lead - trail > 0:
                spans.append((b_start + s + lead, b_start + e - trail))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of text, as substrings."""
    return [text[s:e] for s, e in sentence_spans(text)]
