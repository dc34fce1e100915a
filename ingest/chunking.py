"""Documents -> Chunks: whole sentences packed within a section, with a one-sentence overlap."""
from __future__ import annotations

from ingest.documents import Chunk, Document, Section, content_hash
from ingest.sentences import sentence_spans

# The chunking every ingest uses (recorded in each index manifest): about 180 words aims at the 100-250
# word passages the README promises, 250 is that ceiling, and one sentence of overlap keeps a claim
# whose context straddles a boundary readable in either chunk.
CHUNKING = {"target_words": 180, "max_words": 250, "overlap_sentences": 1}


def pack_sentences(words: list[int], target_words: int = 180, max_words: int = 250,
                   overlap_sentences: int = 1, min_words: int = 40) -> list[tuple[int, int]]:
    """Group consecutive sentences (given their word counts) into [i, j) ranges.

    A group grows while it is under target_words and stays within max_words; a sentence longer than
    max_words is a group of its own, never cut. The next group repeats the last overlap_sentences of
    the previous one. A trailing group with fewer than min_words new words joins its predecessor
    when that stays within max_words.
    """
    groups: list[tuple[int, int]] = []
    n, i = len(words), 0
    while i < n:
        j, total = i + 1, words[i]
        while j < n and total < target_words and total + words[j] <= max_words:
            total += words[j]
            j += 1
        groups.append((i, j))
        if j >= n:
            break
        # Only overlap when the group has sentences beyond the overlap, or it would never advance.
        i = j - overlap_sentences if j - overlap_sentences > i else j
    if len(groups) > 1:
        (pi, pj), (_, lj) = groups[-2], groups[-1]
        new_words = sum(words[pj:lj])
        if new_words < min_words and sum(words[pi:lj]) <= max_words:
            groups[-2:] = [(pi, lj)]
    return groups


def chunk_section(doc: Document, section: Section, first_number: int, target_words: int = 180,
                  max_words: int = 250, overlap_sentences: int = 1) -> list[Chunk]:
    """The chunks of one section, numbered from first_number."""
    spans = sentence_spans(doc.text, section.start, section.end)
    words = [len(doc.text[s:e].split()) for s, e in spans]
    chunks = []
    for n, (i, j) in enumerate(pack_sentences(words, target_words, max_words, overlap_sentences),
                               start=first_number):
        start, end = spans[i][0], spans[j - 1][1]
        text = doc.text[start:end]
        chunks.append(Chunk(chunk_id=f"{doc.doc_id}#{n}", doc_id=doc.doc_id, text=text, start=start, end=end,
                            heading=section.heading, page=section.page, content_hash=content_hash(text)))
    return chunks


def chunk_document(doc: Document, target_words: int = 180, max_words: int = 250,
                   overlap_sentences: int = 1) -> list[Chunk]:
    """Chunks of every section in order; ids are `{doc_id}#{n}` and never cross a section."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        chunks.extend(chunk_section(doc, section, len(chunks), target_words, max_words, overlap_sentences))
    return chunks
