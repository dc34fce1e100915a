"""Hostile and broken files: each one yields one ReadError with a clear reason; none hangs or kills the run."""
from __future__ import annotations

import io
import os
import time
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter

from ingest.batch import read_file_isolated, read_many
from ingest.readers import ReadError, read_file
from ingest.worker import IsolatedReader


def build_pdf(objects: list[bytes]) -> bytes:
    """A PDF from object bodies numbered 1..n (1 is the catalog), with a correct xref table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def stream(data: bytes, extra: bytes = b"") -> bytes:
    """A stream object body."""
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_pdf(text: bytes = b"Hello hostile world.") -> bytes:
    """A valid one-page PDF whose page says text."""
    content = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ])


def many_pages_pdf(n: int) -> bytes:
    """A PDF with n empty pages, written by hand because a layout library would take minutes."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(n))
    pages = [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"] * n
    return build_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                      b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n, *pages])


def bomb_pdf() -> bytes:
    """A page whose 4.7 MB content stream inflates to 1 GiB of zeros."""
    comp = zlib.compressobj(1)
    block = bytes(1 << 24)
    data = b"".join(comp.compress(block) for _ in range(64)) + comp.flush()
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        stream(data, b"/Filter /FlateDecode"),
    ])


def nested_pdf(depth: int = 100_000) -> bytes:
    """A page whose annotation array is nested depth levels deep."""
    nested = b"[" * depth + b"]" * depth
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Annots " + nested + b" >>",
        stream(b"BT /F1 12 Tf 72 720 Td (nested) Tj ET"),
    ])


def encrypted_pdf() -> bytes:
    """A valid PDF that needs the user password "secret"."""
    from pypdf import PdfReader

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


HOSTILE = {
    "encrypted.pdf": (encrypted_pdf, "encrypted PDF"),
    "truncated.pdf": (lambda: text_pdf()[:120], "damaged PDF"),
    "empty.pdf": (lambda: b"", "empty file (0 bytes)"),
    "not-a-pdf.pdf": (lambda: b"This is a text file wearing a .pdf name.\n", "not a PDF"),
    "twenty-thousand-pages.pdf": (lambda: many_pages_pdf(20_000), "too many pages (20000 > 2000)"),
    "nested.pdf": (nested_pdf, "structure too deeply nested"),
    "bomb.pdf": (bomb_pdf, "decompression limit reached"),
    "latin1.txt": (lambda: "Caf\xe9 au lait.".encode("latin-1"), "not valid UTF-8 text (byte 0xe9 at offset 3)"),
}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory) -> Path:
    """A folder with every hostile file, a 200 MB sparse file and one good file between them."""
    folder = tmp_path_factory.mktemp("hostile")
    for name, (make, _) in HOSTILE.items():
        (folder / name).write_bytes(make())
    with open(folder / "huge.txt", "wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB by size, no disk used
    (folder / "good.pdf").write_bytes(text_pdf())
    return folder


def test_every_hostile_file_gets_one_clear_reason_and_the_run_completes(hostile_dir):
    files = sorted(hostile_dir.iterdir())
    t0 = time.perf_counter()
    results = dict(read_many(files, timeout_s=20, memory_mb=512))
    elapsed = time.perf_counter() - t0
    assert sorted(results) == files
    good = results.pop(hostile_dir / "good.pdf")
    assert not isinstance(good, ReadError) and "Hello hostile world." in good[0].text
    reasons = {path.name: r.reason for path, r in results.items() if isinstance(r, ReadError)}
    assert set(reasons) == set(HOSTILE) | {"huge.txt"}
    assert reasons["huge.txt"] == "file too large (200.0 MB > 100 MB limit)"
    for name, (_, expected) in HOSTILE.items():
        assert expected in reasons[name], (name, reasons[name])
    assert elapsed < 30


def test_size_and_page_limits_are_parameters(hostile_dir):
    with pytest.raises(ReadError, match=r"file too large \(0.0 MB > 0 MB limit\)"):
        read_file(hostile_dir / "good.pdf", max_bytes=10)
    with pytest.raises(ReadError, match=r"too many pages \(20000 > 100\)"):
        read_file(hostile_dir / "twenty-thousand-pages.pdf", max_pages=100)
    with pytest.raises(ReadError, match=r"^no extractable text in 20000 page\(s\)"):
        read_file(hostile_dir / "twenty-thousand-pages.pdf", max_pages=20_000)


def test_truncated_real_pdf_is_reported_not_fatal(tmp_path):
    data = text_pdf(b"A sentence that will be cut off.")
    (tmp_path / "cut.pdf").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match=r"^damaged PDF: \S"):
        read_file_isolated(tmp_path / "cut.pdf", timeout_s=10)


def sleepy_reader(path, **options):
    """A reader that never finishes, standing in for a parser stuck in a loop."""
    time.sleep(60)


def greedy_reader(path, **options):
    """A reader that allocates without end, standing in for a memory-hungry parser."""
    hoard = []
    while True:
        hoard.append(bytearray(64 * 2**20))


def crashing_reader(path, **options):
    """A reader whose process dies, standing in for a segfaulting C parser."""
    os.abort()


def test_worker_is_killed_on_timeout_and_replaced(tmp_path):
    (tmp_path / "a.pdf").write_bytes(text_pdf())
    with IsolatedReader(timeout_s=0.5, read_fn=sleepy_reader) as reader:
        t0 = time.perf_counter()
        with pytest.raises(ReadError, match=r"^timed out after 0.5 s$"):
            reader.read(tmp_path / "a.pdf")
        assert time.perf_counter() - t0 < 5
        assert reader.restarts == 1


def test_worker_memory_limit_and_crash_are_reasons(tmp_path):
    (tmp_path / "a.pdf").write_bytes(text_pdf())
    with IsolatedReader(timeout_s=20, memory_mb=200, read_fn=greedy_reader) as reader:
        with pytest.raises(ReadError, match=r"^memory limit exceeded \(200 MB\)$"):
            reader.read(tmp_path / "a.pdf")
    with IsolatedReader(timeout_s=20, read_fn=crashing_reader) as reader:
        with pytest.raises(ReadError, match=r"^parser crashed \(SIGABRT\)$"):
            reader.read(tmp_path / "a.pdf")
