"""The ingest driver (service/pipeline.py): its report, the size limit before reading, quiet by default."""
from __future__ import annotations

import json
from pathlib import Path

from index.embedder import FakeEmbedder
from index.store import Index
from service.console import ConsoleProgress
from service.pipeline import ingest_paths

ARTICLE = "# Sciatica\n\nSciatica is pain along the sciatic nerve, often from a disc herniation.\n"


def test_oversized_file_is_refused_by_size_before_any_byte_is_read(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.md").write_text(ARTICLE, encoding="utf-8")
    big = corpus / "big.md"
    big.write_text(ARTICLE * 40, encoding="utf-8")  # 3,200 bytes
    real_read_bytes = Path.read_bytes

    def guarded(path: Path) -> bytes:
        assert path.name != "big.md", "the oversized file was read"
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    report = ingest_paths([corpus], tmp_path / "idx", FakeEmbedder(), max_bytes=1000)
    assert report.failed == [(str(big), "file too large (0.0 MB > 0 MB limit)")]
    assert (report.added, report.unchanged) == (1, 0)


def test_bad_corpus_line_is_reported_as_path_colon_line(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"_id": "a", "title": "Gout", "text": "Gout is a form of inflammatory arthritis."}),
             "{not json",
             json.dumps({"_id": "b", "title": "Asthma", "text": "Asthma narrows the airways."})]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest_paths([corpus], tmp_path / "idx", FakeEmbedder())
    assert report.failed == [(f"{corpus}:2", "invalid JSON: Expecting property name enclosed in double quotes "
                                             "at column 2")]
    assert [d.doc_id for d in Index.open(tmp_path / "idx").documents()] == ["a", "b"]


def test_driver_prints_nothing_and_the_console_prints_one_failed_line(tmp_path, capsys):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (tmp_path / "ok.md").write_text(ARTICLE, encoding="utf-8")
    report = ingest_paths([tmp_path], tmp_path / "idx", FakeEmbedder())
    assert [location for location, _ in report.failed] == [str(tmp_path / "broken.pdf")]
    assert capsys.readouterr() == ("", "")
    (tmp_path / "ok.md").write_text(ARTICLE + "\nIt often settles within weeks.\n", encoding="utf-8")
    ingest_paths([tmp_path], tmp_path / "idx", FakeEmbedder(), progress=ConsoleProgress(bars=False))
    err = capsys.readouterr().err.splitlines()
    assert err == [f"FAILED {tmp_path / 'broken.pdf'}: {report.failed[0][1]}"]
