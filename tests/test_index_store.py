"""Index build and search with the fake embedder: exact results, filters, deletes, manifest checks."""
from __future__ import annotations

import json

import numpy as np
import pytest

from index.build import delete_document
from service.pipeline import add_documents
from index.embedder import FakeEmbedder
from index.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from index.fusion import FusionSettings, convex, rrf
from index.manifest import CURRENT, live_generation
from index.store import Index, chunk_search_text
from index.types import Filters
from tests.index_helpers import LITERAL, make_doc

EMB = FakeEmbedder()


@pytest.fixture()
def literal_index(tmp_path):
    """An index over the four literal documents."""
    add_documents(tmp_path / "idx", EMB, LITERAL)
    return tmp_path / "idx"


def test_exact_search_equals_brute_force_numpy_top_k(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(60)]
    docs = [make_doc(f"d{i:03d}", " ".join(rng.choice(words, 12)) + ".") for i in range(150)]
    add_documents(tmp_path / "idx", EMB, docs)
    index = Index.open(tmp_path / "idx", EMB)
    chunks = [c for d in index.documents() for c in index.chunks_of(d.doc_id)]
    matrix = EMB.embed([chunk_search_text("", c.heading, c.text) for c in chunks])
    by_id = {c.chunk_id: i for i, c in enumerate(chunks)}
    for query in ("w1 w2 w3", "w40 w41", "w7 w7 w59 w0"):
        q = EMB.embed([query])[0]
        scores = matrix @ q
        expected = sorted(range(len(chunks)), key=lambda i: (-scores[i], i))[:10]
        hits = index.search(query, k=10, mode="dense")
        assert np.allclose([h.score for h in hits], scores[expected], atol=1e-5)
        # ties may come in any order, so compare chunks through their brute-force scores: ten distinct
        # chunks, each really scoring what its rank needs, and every chunk above the 10th score among them
        got = [by_id[h.chunk.chunk_id] for h in hits]
        assert len(set(got)) == len(got) == 10
        assert np.allclose(scores[got], scores[expected], atol=1e-5)
        assert {i for i in expected if scores[i] > scores[expected[-1]] + 1e-5} <= set(got)


def test_bm25_exact_order_on_literal_corpus(literal_index):
    index = Index.open(literal_index, EMB)
    assert [h.document.doc_id for h in index.search("asthma inhalers", k=5, mode="bm25")] == ["asthma"]
    assert [h.document.doc_id for h in index.search("glucose insulin joints", k=5, mode="bm25")] == ["diabetes", "gout"]
    # the title is indexed: "Influenza" appears twice in flu's text and once in its title
    hits = index.search("What is influenza?", k=5, mode="bm25")
    assert [h.document.doc_id for h in hits] == ["flu"] and hits[0].bm25_score > 0


@pytest.mark.parametrize("query", ['"', "AND OR NOT", "NEAR(a b", "*", "col:x", "the of and", "", "a'b\"c"])
def test_hostile_bm25_queries_never_raise(literal_index, query):
    index = Index.open(literal_index, EMB)
    assert isinstance(index.search(query, k=3, mode="bm25"), list)
    assert isinstance(index.search(query, k=3, mode="hybrid"), list)


def test_filters_by_type_and_year_range(literal_index):
    index = Index.open(literal_index, EMB)
    everything = "asthma diabetes gout influenza"
    by_type = index.search_documents(everything, k=10, mode="bm25", filters=Filters(types=("review", "research")))
    assert sorted(h.document.doc_id for h in by_type) == ["diabetes", "gout"]
    by_year = index.search_documents(everything, k=10, mode="dense", filters=Filters(year_min=2015, year_max=2020))
    assert [h.document.doc_id for h in by_year] == ["asthma"]
    hybrid = index.search_documents(everything, k=10, mode="hybrid", filters=Filters(year_min=2013))
    assert sorted(h.document.doc_id for h in hybrid) == ["asthma", "gout"]


def test_search_documents_collapses_chunks_per_document(tmp_path):
    long_text = " ".join(f"Sentence number {i} talks about migraine headaches." for i in range(120))
    add_documents(tmp_path / "idx", EMB, [make_doc("migraine", long_text, "Migraine"), *LITERAL])
    index = Index.open(tmp_path / "idx", EMB)
    assert len(index.chunks_of("migraine")) > 2
    chunk_hits = index.search("migraine headaches", k=5, mode="bm25")
    assert [h.document.doc_id for h in chunk_hits].count("migraine") > 1
    doc_hits = index.search_documents("migraine headaches", k=5, mode="hybrid")
    assert [h.document.doc_id for h in doc_hits].count("migraine") == 1


def test_delete_and_replace_without_rebuild(literal_index):
    before = Index.open(literal_index, EMB)
    assert delete_document(literal_index, "gout") is True
    assert delete_document(literal_index, "gout") is False
    index = Index.open(literal_index, EMB)
    assert index.document("gout") is None and len(index) == index.vector_count == len(before) - 1
    assert all(h.document.doc_id != "gout" for h in index.search("gout uric acid", k=10))
    add_documents(literal_index, EMB, [make_doc("asthma", "Asthma is now about bronchodilators.", "Asthma")])
    index = Index.open(literal_index, EMB)
    assert [c.text for c in index.chunks_of("asthma")] == ["Asthma is now about bronchodilators."]
    assert index.search("bronchodilators", k=1, mode="bm25")[0].document.doc_id == "asthma"
    assert index.search("wheezing inhalers", k=5, mode="bm25") == []
    assert len(index) == index.vector_count == index.manifest["counts"]["chunks"]


def test_hnsw_index_handles_deletes_by_rebuilding(tmp_path):
    docs = [make_doc(f"d{i}", f"topic{i} words here and more topic{i}.") for i in range(30)]
    add_documents(tmp_path / "idx", EMB, docs, vector_index="hnsw")
    delete_document(tmp_path / "idx", "d3")
    index = Index.open(tmp_path / "idx", EMB)
    assert index.manifest["vector_index"]["kind"] == "hnsw"
    assert len(index) == index.vector_count == 29
    assert index.search("topic7", k=1, mode="dense")[0].document.doc_id == "d7"


def test_lookups(literal_index):
    index = Index.open(literal_index, EMB)
    assert [d.doc_id for d in index.documents()] == ["asthma", "diabetes", "flu", "gout"]
    assert index.document("gout").meta.year == 2021 and index.document("nope") is None
    assert index.document_text("flu") == LITERAL[3].text
    assert index.chunk("flu#0").text == LITERAL[3].text and index.chunk("flu#9") is None


def test_missing_index_names_the_command(tmp_path):
    with pytest.raises(IndexNotFound, match="run `medcite ingest` first"):
        Index.open(tmp_path / "nothing", EMB)


def test_other_model_fails_with_the_fix(literal_index):
    with pytest.raises(IndexMismatch) as err:
        Index.open(literal_index, FakeEmbedder(dim=32, name="other-model"))
    message = str(err.value)
    assert "fake-hash-64 (dim 64)" in message and "other-model (dim 32)" in message
    assert "MEDCITE_MODEL=fake-hash-64" in message and "medcite ingest --index" in message


def test_corrupted_vectors_file_is_refused(literal_index):
    vectors = live_generation(literal_index) / "vectors.faiss"
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="vectors.faiss fails its checksum"):
        Index.open(literal_index, EMB)


def test_manifest_records_settings_and_checksums(literal_index):
    gen = live_generation(literal_index)
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["model"] == "fake-hash-64" and manifest["dim"] == 64 and manifest["format_version"] == 2
    assert manifest["counts"] == {"documents": 4, "chunks": 4, "files": 0, "vectors": 4, "sentences": 8,
                                  "sentence_vectors": 8}
    assert set(manifest["checksums"]) == {"store.sqlite", "vectors.faiss", "bm25.npz", "sentences.npy"}
    assert manifest["chunking"] == {"target_words": 180, "max_words": 250, "overlap_sentences": 1}
    assert (literal_index / CURRENT).read_text().strip() == gen.name


def test_fusions_on_literal_rankings():
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    lexical = [(3, 10.0), (2, 5.0)]
    # 3: 1/63 + 1/61 edges out 2: 2/62; tripling the dense weight puts 2 first and 1 ahead of nothing
    assert [i for i, _ in rrf(dense, lexical)] == [3, 2, 1]
    assert [i for i, _ in rrf(dense, lexical, dense_weight=3.0)] == [2, 3, 1]
    fused = dict(convex(dense, lexical, alpha=0.5))
    assert fused == pytest.approx({1: 0.45, 2: 0.65, 3: 0.55})


def test_convex_fusion_normalises_both_lists():
    dense = [(1, 0.9), (2, 0.8), (3, 0.1)]
    lexical = [(3, 10.0), (2, 5.0)]
    # min-max: dense 1 -> 1, 2 -> 0.875, 3 -> 0; BM25 3 -> 1, 2 -> 0, and 1 (not found) gets BM25's floor 0
    assert dict(convex(dense, lexical, 0.5, "minmax")) == pytest.approx({1: 0.5, 2: 0.4375, 3: 0.5})
    # z-scores: dense mean 0.6, sd 0.3559 -> 1: 0.8429, 2: 0.5620, 3: -1.4049; BM25 3: +1, 2: -1, 1: floor -1
    assert dict(convex(dense, lexical, 0.5, "zscore")) == pytest.approx(
        {1: -0.0786, 2: -0.2190, 3: -0.2024}, abs=1e-4)
    with pytest.raises(ValueError, match="unknown normalisation"):
        convex(dense, lexical, 0.5, "rank")


def test_fusion_is_the_current_setting_not_the_one_a_manifest_recorded(literal_index):
    gen = live_generation(literal_index)
    manifest = json.loads((gen / "manifest.json").read_text())
    assert "fusion" not in manifest
    manifest["fusion"] = {"method": "rrf", "alpha": 0.1, "rrf_k": 5}  # what an older generation wrote
    (gen / "manifest.json").write_text(json.dumps(manifest))
    assert Index.open(literal_index, EMB).fusion == FusionSettings()
