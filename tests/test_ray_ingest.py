"""`--ray` ingest gives the index the single-process path gives: same ids, texts, sentences, vectors, failures."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.build import faiss_ids
from index.embedder import FakeEmbedder
from index.manifest import SENTENCES, STORE, VECTORS, live_generation
from index import vectors
from service.pipeline import ingest_paths

ray = pytest.importorskip("ray", reason="Ray is the optional extra medcite[ray]")
from service.distributed import ray_reader  # noqa: E402  (needs ray)

ROOT = Path(__file__).resolve().parents[1]
EMB = FakeEmbedder()
FAKE = {"model": "fake"}  # load_embedder options of the Ray actors: the same test embedder


@pytest.fixture(scope="module")
def local_ray():
    """One local single-node Ray for the module (starting one takes seconds)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.fixture()
def small_corpus(tmp_path):
    """Three articles of the default corpus, a PDF, a corpus.jsonl with one bad line, and a broken PDF."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("sacroiliac-joint-pain.md", "lumbar-facet-joint-pain.md", "ischiogluteal-bursitis.md",
                 "proximal-hamstring-tendinopathy.pdf", "proximal-hamstring-tendinopathy.pdf.meta.json"):
        shutil.copy(ROOT / "corpus" / name, src / name)
    (src / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a PDF body")
    (src / "mini-corpus.jsonl").write_text(
        '{"_id": "a1", "title": "Gout", "text": "Gout causes painful joints. Uric acid crystals build up."}\n'
        "{not json\n"
        '{"_id": "a2", "title": "Flu", "text": "Influenza spreads each winter. Vaccines prevent it."}\n',
        encoding="utf-8")
    return src


def dump(index_dir: Path) -> dict:
    """Everything the two paths must agree on, read straight from the committed generation."""
    gen = live_generation(index_dir)
    conn = sqlite3.connect(gen / STORE)
    index = vectors.load(gen / VECTORS)
    ids = faiss_ids(index)
    order = np.argsort(ids)
    return {
        "chunks": conn.execute("SELECT id, chunk_id, doc_id, text, start_char, end_char, heading FROM chunks "
                               "ORDER BY id").fetchall(),
        "documents": conn.execute("SELECT doc_id, text, meta FROM documents ORDER BY doc_id").fetchall(),
        "sentences": conn.execute("SELECT chunk_rowid, ordinal, start_char, end_char, row FROM sentences "
                                  "ORDER BY chunk_rowid, ordinal").fetchall(),
        "ids": ids[order],
        "vectors": index.index.reconstruct_n(0, index.ntotal)[order],
        "sentence_vectors": np.load(gen / SENTENCES).astype(np.float32),
    }


def test_ray_ingest_equals_single_process(local_ray, small_corpus, tmp_path):
    one = ingest_paths([small_corpus], tmp_path / "one", EMB)
    distributed = ingest_paths([small_corpus], tmp_path / "ray", EMB, reader=ray_reader(FAKE))
    assert one.chunks == distributed.chunks > 0
    assert (one.added, one.failed) == (distributed.added, distributed.failed)  # the same FAILED lines
    assert [p.rsplit("/", 1)[-1] for p, _ in one.failed] == ["broken.pdf", "mini-corpus.jsonl:2"]
    a, b = dump(tmp_path / "one"), dump(tmp_path / "ray")
    for key in ("chunks", "documents", "sentences"):
        assert a[key] == b[key], key
    assert np.array_equal(a["ids"], b["ids"])
    assert np.abs(a["vectors"] - b["vectors"]).max() <= 1e-5
    assert a["sentence_vectors"].shape == b["sentence_vectors"].shape
    assert np.abs(a["sentence_vectors"] - b["sentence_vectors"]).max() <= 1e-5


def test_ray_ingest_skips_unchanged_files_like_single_process(local_ray, small_corpus, tmp_path):
    ingest_paths([small_corpus], tmp_path / "idx", EMB, reader=ray_reader(FAKE))
    again = ingest_paths([small_corpus], tmp_path / "idx", EMB, reader=ray_reader(FAKE))
    assert (again.added, again.updated, again.chunks) == (0, 0, 0)
    assert again.unchanged == 5  # 3 md + 1 pdf + the jsonl; the broken PDF fails again
