"""Sentence spans and vectors stored at ingest: exact spans, the embedder's vectors, deletes, checksums, crashes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from index import build
from index.build import delete_document
from service.pipeline import add_documents, ingest_paths
from index.embedder import FakeEmbedder
from index.errors import IndexCorrupt, IndexMismatch
from index.manifest import live_generation
from index.sentence_store import SENTENCE_DTYPE
from index.store import Index
from ingest.documents import DocMeta, Document, Section, content_hash
from tests.index_helpers import LITERAL, make_doc

EMB = FakeEmbedder()

LIST_TEXT = ("Causes of pain include:\n\n- Disc herniation irritates a nerve root.\n"
             "- Facet joints can hurt (Cohen 2005).\n\nTreatment starts with activity, e.g. walking. "
             "Heat helps 1.5 times more people than rest.")
LIST_SENTENCES = ["Causes of pain include:", "- Disc herniation irritates a nerve root.",
                  "- Facet joints can hurt (Cohen 2005).", "Treatment starts with activity, e.g. walking.",
                  "Heat helps 1.5 times more people than rest."]


def long_doc(doc_id: str = "long", n: int = 40) -> Document:
    """A one-section document of n distinct 12-word sentences: several chunks with a 1-sentence overlap."""
    text = " ".join(f"Sentence {i} of {doc_id} describes lumbar pain with a distinct token t{i}x." for i in range(n))
    return make_doc(doc_id, text, title=doc_id.title())


def expected_vectors(texts: list[str]) -> np.ndarray:
    """What the index must return for these sentences: the embedder's vectors through float16, re-normalised."""
    vecs = EMB.embed(texts).astype(SENTENCE_DTYPE).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def all_records(index: Index) -> list:
    """Every stored sentence of every chunk, in document then text order."""
    ids = [c.chunk_id for d in index.documents() for c in index.chunks_of(d.doc_id)]
    return [r for records in index.sentences(ids).values() for r in records]


def test_spans_round_trip_and_keep_list_items_and_blocks(tmp_path):
    add_documents(tmp_path / "idx", EMB, [make_doc("list", LIST_TEXT, "Pain")])
    index = Index.open(tmp_path / "idx", EMB)
    chunk = index.chunk("list#0")
    records = index.sentences(["list#0"])["list#0"]
    assert [chunk.text[r.start:r.end] for r in records] == LIST_SENTENCES
    assert [r.chunk_id for r in records] == ["list#0"] * 5 and [r.cites for r in records] == [()] * 5
    assert index.sentences(["nope#1", "list#0"]) == {"nope#1": (), "list#0": records}


def test_vectors_are_the_embedders_on_those_sentences(tmp_path):
    add_documents(tmp_path / "idx", EMB, [make_doc("list", LIST_TEXT, "Pain"), *LITERAL])
    index = Index.open(tmp_path / "idx", EMB)
    records = all_records(index)
    texts = [index.chunk(r.chunk_id).text[r.start:r.end] for r in records]
    got = index.sentence_vectors(np.array([r.row for r in records]))
    assert got.dtype == np.float32 and got.shape == (len(texts), EMB.dim) == (13, 64)
    np.testing.assert_array_equal(got, expected_vectors(texts))
    np.testing.assert_allclose(got, EMB.embed(texts), atol=1e-3)  # float16 keeps the cosine to 1e-3


def test_a_sentence_shared_by_overlapping_chunks_is_embedded_once(tmp_path):
    calls: list[str] = []

    class Counting(FakeEmbedder):
        def embed(self, texts):
            calls.extend(texts)
            return super().embed(texts)

    add_documents(tmp_path / "idx", Counting(), [long_doc()])
    index = Index.open(tmp_path / "idx", EMB)
    chunks = index.chunks_of("long")
    assert len(chunks) == 3
    by_chunk = index.sentences([c.chunk_id for c in chunks])
    for left, right in zip(chunks, chunks[1:]):
        last, first = by_chunk[left.chunk_id][-1], by_chunk[right.chunk_id][0]
        assert left.text[last.start:last.end] == right.text[first.start:first.end]  # the overlap sentence
        assert last.row == first.row
    sentences = [s for s in calls if s.startswith("Sentence ")]
    assert len(sentences) == len(set(sentences)) == 40 == index.manifest["counts"]["sentence_vectors"]
    assert index.manifest["counts"]["sentences"] == 42  # two overlap sentences stored twice, embedded once


def test_reference_list_sections_store_no_sentences(tmp_path):
    body = "Facet joints can hurt (Cohen 2005). Activity helps most people."
    refs = "Cohen SP. Sacroiliac joint pain. Anesthesiology. 2005;103:1074-1092."
    text = body + "\n\n" + refs
    doc = Document("refs", "/corpus/refs.md", text, DocMeta(title="Refs"),
                   (Section("Overview", 0, len(body)), Section("References", len(body) + 2, len(text))),
                   content_hash(text))
    add_documents(tmp_path / "idx", EMB, [doc])
    index = Index.open(tmp_path / "idx", EMB)
    got = index.sentences(["refs#0", "refs#1"])
    assert index.chunk("refs#1").heading == "References" and got["refs#1"] == ()
    assert [index.chunk("refs#0").text[r.start:r.end] for r in got["refs#0"]] == [
        "Facet joints can hurt (Cohen 2005).", "Activity helps most people."]


def test_deletes_remove_rows_and_renumber_the_rest(tmp_path):
    add_documents(tmp_path / "idx", EMB, [make_doc("list", LIST_TEXT, "Pain"), *LITERAL])
    assert delete_document(tmp_path / "idx", "list")
    index = Index.open(tmp_path / "idx", EMB)
    records = all_records(index)
    texts = [index.chunk(r.chunk_id).text[r.start:r.end] for r in records]
    assert sorted({r.chunk_id for r in records}) == ["asthma#0", "diabetes#0", "flu#0", "gout#0"]
    assert index.manifest["counts"]["sentences"] == index.manifest["counts"]["sentence_vectors"] == 8
    assert sorted(r.row for r in records) == list(range(8))  # the deleted document's 5 rows are gone
    np.testing.assert_array_equal(index.sentence_vectors(np.array([r.row for r in records])), expected_vectors(texts))
    assert index.sentences(["list#0"]) == {"list#0": ()}


def test_incremental_ingest_and_prune_keep_sentences_consistent(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, body in (("a", "Alpha pain is sharp. It eases with rest."), ("b", "Beta pain is dull. Heat helps.")):
        (corpus / f"{name}.txt").write_text(body)
    ingest_paths([corpus], tmp_path / "idx", EMB)
    (corpus / "a.txt").write_text("Alpha pain is burning. It eases with rest.")
    (corpus / "b.txt").unlink()
    ingest_paths([corpus], tmp_path / "idx", EMB, prune=True)
    index = Index.open(tmp_path / "idx", EMB)
    records = all_records(index)
    texts = [index.chunk(r.chunk_id).text[r.start:r.end] for r in records]
    assert texts == ["Alpha pain is burning.", "It eases with rest."]
    assert sorted(r.row for r in records) == [0, 1]
    np.testing.assert_array_equal(index.sentence_vectors(np.array([r.row for r in records])), expected_vectors(texts))


def test_corrupted_sentence_vectors_are_refused(tmp_path):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    path = live_generation(tmp_path / "idx") / "sentences.npy"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="sentences.npy fails its checksum"):
        Index.open(tmp_path / "idx", EMB)


def test_a_crash_mid_commit_leaves_the_old_generation_serving(tmp_path, monkeypatch):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    before = Index.open(tmp_path / "idx", EMB)
    old_records = all_records(before)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    # sentences.npy of the new generation is written, then the manifest write fails
    monkeypatch.setattr(build, "write_manifest", crash)
    with pytest.raises(OSError, match="disk full"):
        add_documents(tmp_path / "idx", EMB, [make_doc("list", LIST_TEXT, "Pain")])
    monkeypatch.undo()
    index = Index.open(tmp_path / "idx", EMB)
    assert index.gen_dir == before.gen_dir and index.document("list") is None
    assert all_records(index) == old_records
    add_documents(tmp_path / "idx", EMB, [make_doc("list", LIST_TEXT, "Pain")])  # the next writer cleans up
    assert sorted(p.name for p in (tmp_path / "idx").glob("gen-*")) == ["gen-000001", "gen-000002"]
    assert len(all_records(Index.open(tmp_path / "idx", EMB))) == len(old_records) + 5


def test_an_index_of_the_old_format_names_the_fix(tmp_path):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    manifest_path = live_generation(tmp_path / "idx") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(dict(manifest, format_version=1)))
    with pytest.raises(IndexMismatch, match=r"format version 1 .* re-run `medcite ingest`"):
        Index.open(tmp_path / "idx", EMB)


def test_search_and_query_vector_share_one_model_call(tmp_path):
    add_documents(tmp_path / "idx", EMB, LITERAL)
    calls: list[list[str]] = []

    class Counting(FakeEmbedder):
        def embed(self, texts):
            calls.append(list(texts))
            return super().embed(texts)

    index = Index.open(tmp_path / "idx", Counting())
    hits = index.search("asthma inhalers", k=2, mode="hybrid")
    vec = index.query_vector("asthma inhalers")
    assert calls == [["asthma inhalers"]] and hits[0].document.doc_id == "asthma"
    np.testing.assert_array_equal(vec, EMB.embed(["asthma inhalers"])[0])
    assert vec.dtype == np.float32 and not vec.flags.writeable


def test_the_test_fakes_serve_the_same_sentence_api():
    from tests.answer_helpers import MemoryRetriever, make_document
    from tests.api_support import FakeIndex

    fake = MemoryRetriever([make_document("list", "Pain", [("Causes", LIST_TEXT)])])
    records = fake.sentences(["list#0", "nope#0"])
    chunk = fake.chunks_of("list")[0]
    assert [chunk.text[r.start:r.end] for r in records["list#0"]] == LIST_SENTENCES and records["nope#0"] == ()
    np.testing.assert_array_equal(fake.sentence_vectors(np.array([r.row for r in records["list#0"]])),
                                  EMB.embed(LIST_SENTENCES))
    assert fake.search("facet joints", k=1)[0].chunk.chunk_id == "list#0" and fake.embedded == ["facet joints"]
    api_fake = FakeIndex()
    first = api_fake.sentences(["sij-2#1"])["sij-2#1"]
    assert [api_fake.chunks_of("sij-2")[1].text[r.start:r.end] for r in first] == ["It is worse when standing up."]
    np.testing.assert_array_equal(api_fake.sentence_vectors(np.array([first[0].row])),
                                  EMB.embed(["It is worse when standing up."]))
    np.testing.assert_array_equal(api_fake.query_vector("buttock"), EMB.embed(["buttock"])[0])
