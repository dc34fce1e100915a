"""Issue 13 regressions over a real index (FakeEmbedder): concurrent writes, hostile uploads, disk full, leaks."""
from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api_support import wait_ready
from service.app import create_app
from service.settings import Settings

pytest.importorskip("index.build")

KEY = "k3y"
AUTH = {"Authorization": f"Bearer {KEY}"}
CORPUS = {
    "buttock-pain.md": "---\ntitle: Buttock pain versus low back pain\ntype: review\nyear: 2004\n---\n"
                       "# Where the pain is\n\nButtock pain is felt below the iliac crest and above the gluteal fold.\n"
                       "Low back pain is felt between the twelfth ribs and the iliac crest.\n",
    "knee.md": "---\ntitle: Knee osteoarthritis\ntype: review\nyear: 2019\n---\n# Knee osteoarthritis\n\n"
               "Knee osteoarthritis causes pain when walking and stiffness in the morning.\n",
}
WRITERS, UPLOADS_EACH = 8, 3  # the "Done when": 8 writers beside 3 readers
READERS = 3


@pytest.fixture
def index_dir(tmp_path):
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    report = ingest_paths([corpus], tmp_path / "index", FakeEmbedder())
    assert not report.failed
    return tmp_path / "index"


def client_for(index_dir, **kw) -> TestClient:
    return TestClient(create_app(Settings(index=index_dir, model="fake", api_key=KEY, **kw)))


def upload(c, name: str, text: str, metadata: str | None = None):
    data = {"metadata": metadata} if metadata is not None else {}
    return c.post("/documents", headers=AUTH, files={"file": (name, text.encode(), "text/markdown")}, data=data)


def doc_titles(c) -> dict[str, str]:
    """doc_id -> title of every served document."""
    return {d["doc_id"]: d["title"] for d in c.get("/documents", params={"limit": 1000}).json()["documents"]}


def deleted_files_held_open(index_dir) -> list[str]:
    """Files under index_dir this process still has open or memory-mapped although they were deleted
    (their disk space is not freed until they are closed)."""
    import os

    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    with open("/proc/self/maps") as maps:
        held += [line.split(None, 5)[-1].strip() for line in maps if len(line.split(None, 5)) == 6]
    return sorted({t for t in held if t.startswith(str(index_dir)) and t.endswith("(deleted)")})


# --- item 2: reads never fail while writes commit --------------------------------------------------


def test_a_request_on_an_old_generation_survives_commits_and_its_files_are_freed_after(index_dir):
    from index.manifest import generation_numbers
    from service.deps import default_answerer, get_answerer

    entered, release = threading.Event(), threading.Event()

    def held_answer(*args):
        entered.set()
        assert release.wait(10)
        return default_answerer(*args)

    app = create_app(Settings(index=index_dir, model="fake", api_key=KEY))
    app.dependency_overrides[get_answerer] = lambda: held_answer
    result = {}
    with TestClient(app, raise_server_exceptions=False) as c:
        wait_ready(c)
        asker = threading.Thread(target=lambda: result.update(
            r=c.post("/ask", json={"question": "Where is buttock pain felt?"})))
        asker.start()
        assert entered.wait(10)
        for n in range(2):  # two commits: the asker's generation is no longer even the previous one
            assert upload(c, f"note{n}.md", f"# Note {n}\n\nHip pain note number {n}.\n").status_code == 201
        release.set()
        asker.join(10)
        assert result["r"].status_code == 200, result["r"].text
        assert result["r"].json()["references"][0]["title"] == "Buttock pain versus low back pain"
        app.dependency_overrides.pop(get_answerer)
        assert upload(c, "note2.md", "# Note 2\n\nHip pain note number 2.\n").status_code == 201
        # The asker's generation went at the next commit, and no deleted index file is still held open.
        assert len(generation_numbers(index_dir)) == 2
        assert deleted_files_held_open(index_dir) == []



def test_reads_never_fail_during_concurrent_uploads_and_deletes(index_dir):
    statuses: list[int] = []
    errors: list[str] = []
    kept: dict[str, str] = {}
    writing = threading.Event()
    writing.set()
    with client_for(index_dir) as c:
        wait_ready(c)
        before = doc_titles(c)

        def read_loop(n: int) -> None:
            while writing.is_set():
                if n % 2:
                    r = c.post("/ask", json={"question": "Where is buttock pain felt?"})
                else:
                    r = c.post("/search", json={"query": "pain walking knee", "top_k": 5})
                statuses.append(r.status_code)
                if r.status_code >= 500:
                    errors.append(r.text)

        def write_loop(w: int) -> None:
            ids = []
            for j in range(UPLOADS_EACH):
                title = f"Upload {w}-{j}"
                r = upload(c, f"w{w}-{j}.md", f"# {title}\n\nWriter {w} wrote note {j} about hip pain.\n")
                if r.status_code != 201:
                    errors.append(f"upload {title}: {r.status_code} {r.text}")
                    return
                ids.append((r.json()["documents"][0]["doc_id"], title))
            gone = ids.pop(1)[0]
            r = c.delete(f"/documents/{gone}", headers=AUTH)
            if r.status_code != 204:
                errors.append(f"delete {gone}: {r.status_code} {r.text}")
            kept.update(ids)

        readers = [threading.Thread(target=read_loop, args=(n,)) for n in range(READERS)]
        writers = [threading.Thread(target=write_loop, args=(w,)) for w in range(WRITERS)]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(120)
        writing.clear()
        for t in readers:
            t.join(30)
        print(f"\n{len(statuses)} reads during {WRITERS * UPLOADS_EACH} uploads and {WRITERS} deletes: "
              f"{sum(s >= 500 for s in statuses)} 5xx, statuses {sorted(set(statuses))}")
        assert errors == []
        assert statuses and set(statuses) == {200}
        expected = {**before, **kept}
        assert len(kept) == WRITERS * (UPLOADS_EACH - 1)
        assert doc_titles(c) == expected
    uploads = sorted(p.name for p in (index_dir / "uploads").iterdir())
    assert uploads == sorted(f"w{w}-{j}.md" for w in range(WRITERS) for j in (0, 2))
    with client_for(index_dir) as c:  # after a restart
        wait_ready(c)
        assert doc_titles(c) == expected


# --- item 3: document ids never overwrite another source's document ----------------------------

MEDQUAD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="{source}" url="https://example.org/x">
<Focus>Hijacked title</Focus>
<QAPairs><QAPair pid="1"><Question qid="1">What is it?</Question><Answer>Replaced text from an upload.</Answer>
</QAPair></QAPairs></Document>
"""


def upload_xml(c, name: str, source: str = ""):
    body = MEDQUAD_XML.format(source=source).encode()
    return c.post("/documents", headers=AUTH, files={"file": (name, body, "application/xml")})


def test_xml_upload_named_after_an_existing_document_is_refused_with_409(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        before = doc_titles(c)
        victim = next(d for d, t in before.items() if t == "Buttock pain versus low back pain")
        r = upload_xml(c, f"{victim}.xml")
        assert r.status_code == 409, r.text
        # the holder is named by its source, without the server path it was ingested from (tmp_path here)
        assert r.json() == {"detail": f"document id {victim!r} already belongs to buttock-pain.md: rename the "
                                      "file, or delete that document first"}
        assert doc_titles(c) == before
        assert "Replaced text" not in c.get(f"/documents/{victim}").text
        assert list((index_dir / "uploads").iterdir()) == []


def test_xml_source_attribute_gives_a_reachable_id(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        r = upload_xml(c, "x1.xml", source="../evil/x?y#z")
        assert r.status_code == 201, r.text
        doc_id = r.json()["documents"][0]["doc_id"]
        assert doc_id == "evil-x-y-z_x1"
        assert c.get(f"/documents/{doc_id}").json()["title"] == "Hijacked title"
        assert c.delete(f"/documents/{doc_id}", headers=AUTH).status_code == 204
        assert c.get(f"/documents/{doc_id}").status_code == 404


# --- item 4: YAML alias bomb --------------------------------------------------------------------


def alias_bomb(levels: int) -> str:
    """Markdown whose front matter nests YAML aliases `levels` deep, each level nine times the last."""
    names = "abcdefghij"
    lines = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 9) + "]" for i in range(1, levels)]
    lines += ["title: [" + ",".join([f"*{names[levels - 1]}"] * 9) + "]", "---", "# Bomb", "", "Some text.", ""]
    return "\n".join(lines)


def peak_rss_reset() -> None:
    """Reset this process's peak resident set size (VmHWM) so the next peak is measured from now."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def peak_rss_mb() -> float:
    """Peak resident set size (VmHWM) of this process, in MB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def current_rss_mb() -> float:
    """Resident set size (VmRSS) of this process, in MB."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:")) / 1024


def test_yaml_alias_bomb_is_refused_quickly_without_memory_growth(index_dir):
    import time

    bomb = alias_bomb(6)  # 9**6 * 9 "lol"s: 24 MB of title and ~16 s on the code before the fix
    with client_for(index_dir) as c:
        wait_ready(c)
        before = doc_titles(c)
        rss_before = current_rss_mb()
        peak_rss_reset()
        started = time.perf_counter()
        r = upload(c, "bomb.md", bomb)
        seconds = time.perf_counter() - started
        growth = peak_rss_mb() - rss_before
        print(f"\nalias bomb ({len(bomb.encode())} bytes): {r.status_code} in {seconds:.3f} s, "
              f"peak RSS growth {growth:.1f} MB")
        assert r.status_code == 422
        assert r.json()["detail"].startswith("could not read bomb.md: invalid YAML front matter: aliases (*name) "
                                             "are not allowed in front matter")
        assert seconds < 2 and growth < 100
        assert doc_titles(c) == before


# --- item 5: disk full --------------------------------------------------------------------------


def enospc(*args, **kwargs):
    import errno
    import os

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["store copy", "vectors", "upload file"])
def test_disk_full_is_a_clean_507_leaving_nothing_behind(index_dir, monkeypatch, where):
    from index import build
    from index.manifest import generation_numbers
    from service import uploads

    with client_for(index_dir) as c:
        wait_ready(c)
        assert upload(c, "first.md", "# First\n\nAn earlier upload about hip pain.\n").status_code == 201
        before, generations = doc_titles(c), generation_numbers(index_dir)
        target = {"store copy": (build.shutil, "copyfile"), "vectors": (build.vectors, "save"),
                  "upload file": (uploads.shutil, "copyfileobj")}[where]
        monkeypatch.setattr(*target, enospc)
        r = upload(c, "second.md", "# Second\n\nA second upload about knee pain.\n")
        monkeypatch.undo()
        assert r.status_code == 507, r.text
        assert r.json() == {"detail": "no space left on the index's disk: the "
                            + ("upload was not stored" if where == "upload file" else "change was not made")
                            + ", free some space and retry"}
        assert generation_numbers(index_dir) == generations  # no partial generation left
        assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == ["first.md"]
        assert doc_titles(c) == before
        assert c.get("/readyz").status_code == 200
        # The same upload succeeds once there is space again.
        assert upload(c, "second.md", "# Second\n\nA second upload about knee pain.\n").status_code == 201
        assert deleted_files_held_open(index_dir) == []


def test_replaced_generations_are_closed_so_their_space_is_freed(index_dir):
    from index.manifest import generation_numbers

    with client_for(index_dir) as c:
        wait_ready(c)
        for n in range(3):
            assert c.post("/search", json={"query": "buttock pain"}).status_code == 200  # opens connections
            assert upload(c, f"n{n}.md", f"# Note {n}\n\nHip pain note {n}.\n").status_code == 201
        assert deleted_files_held_open(index_dir) == []
        assert len(generation_numbers(index_dir)) == 2


# --- item 6: uploads stored atomically, privately, without harming earlier ones -------------------


def test_stored_uploads_are_private(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        assert upload(c, "hip.md", "# Hip pain\n\nGroin pain.\n", metadata='{"year": 2021}').status_code == 201
    assert (index_dir / "uploads" / "hip.md").stat().st_mode & 0o777 == 0o600
    assert (index_dir / "uploads" / "hip.md.meta.json").stat().st_mode & 0o777 == 0o600
    assert (index_dir / "uploads").stat().st_mode & 0o777 == 0o700


def test_failed_upload_keeps_the_earlier_upload_of_the_same_name(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        good = "# Hip pain\n\nHip joint pain is usually felt in the groin.\n"
        r = upload(c, "hip.md", good, metadata='{"year": 2021}')
        assert r.status_code == 201
        doc_id = r.json()["documents"][0]["doc_id"]
        stored = index_dir / "uploads" / "hip.md"
        r = upload(c, "hip.md", "---\ntitle: [unclosed\n---\n# Broken\n\ntext\n")
        assert r.status_code == 422
        assert stored.read_text() == good
        assert (index_dir / "uploads" / "hip.md.meta.json").read_text() == '{"year": 2021}'
        assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == ["hip.md", "hip.md.meta.json"]
        assert c.get(f"/documents/{doc_id}").json()["year"] == 2021


def test_concurrent_same_name_uploads_each_get_their_own_result(index_dir):
    good = "# Hip pain\n\nHip joint pain is usually felt in the groin.\n"
    bad = "---\ntitle: [unclosed\n---\n# Broken\n\ntext\n"
    results: dict[str, list[int]] = {"good": [], "bad": []}
    with client_for(index_dir) as c:
        wait_ready(c)

        def send(kind: str, text: str) -> None:
            for _ in range(4):
                results[kind].append(upload(c, "same.md", text).status_code)

        threads = [threading.Thread(target=send, args=(k, t)) for k, t in (("good", good), ("bad", bad))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results == {"good": [201] * 4, "bad": [422] * 4}
        assert (index_dir / "uploads" / "same.md").read_text() == good
        assert [t for t in doc_titles(c).values() if t == "Hip pain"] == ["Hip pain"]


def test_files_left_by_a_crash_mid_upload_are_settled_at_start(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        assert upload(c, "kept.md", "# Kept\n\nThe upload that was committed.\n").status_code == 201
        assert upload(c, "swapped.md", "# Old\n\nThe earlier content.\n").status_code == 201
    uploads = index_dir / "uploads"
    # What a crash leaves: a half-written incoming file, a stored upload never committed, and an
    # upload that replaced swapped.md on disk but whose commit never happened (its earlier file set aside).
    (uploads / ".incoming-abc123").write_bytes(b"half")
    (uploads / "orphan.md").write_text("# Orphan\n\nNever committed.\n")
    (uploads / "orphan.md.meta.json").write_text("{}")
    (uploads / ".previous-swapped.md").write_text((uploads / "swapped.md").read_text())
    (uploads / "swapped.md").write_text("# New\n\nThe content whose commit never happened.\n")
    with client_for(index_dir) as c:
        wait_ready(c)
        assert sorted(p.name for p in uploads.iterdir()) == ["kept.md", "swapped.md"]
        assert (uploads / "swapped.md").read_text() == "# Old\n\nThe earlier content.\n"
        titles = sorted(doc_titles(c).values())
        assert "Old" in titles and "Orphan" not in titles and "New" not in titles


# --- item 8: no server paths, hostile bodies, UTF-8 keys -----------------------------------------


def test_corrupt_index_errors_name_no_server_path(index_dir):
    from index.manifest import current_generation

    store = current_generation(index_dir) / "store.sqlite"
    store.write_bytes(store.read_bytes()[:-10] + b"corrupted!")
    with client_for(index_dir) as c:
        for _ in range(500):
            r = c.get("/readyz")
            if "loading" not in r.json()["detail"]:
                break
        gen = store.parent.name
        expected = (f"index at MEDCITE_INDEX is corrupt (MEDCITE_INDEX/{gen}/store.sqlite fails its checksum "
                    "(corrupted): delete MEDCITE_INDEX and re-run `medcite ingest`): rebuild it with `medcite ingest`")
        assert r.status_code == 503 and r.json() == {"detail": expected}
        r = c.post("/ask", json={"question": "buttock pain"})
        assert r.status_code == 503 and r.json() == {"detail": expected}
        assert str(index_dir) not in r.text and "/tmp" not in r.text


def test_upload_sources_are_shown_without_server_paths(index_dir):
    with client_for(index_dir) as c:
        wait_ready(c)
        r = upload(c, "hip.md", "# Hip pain\n\nHip joint pain is usually felt in the groin rather than the buttock.\n")
        assert r.status_code == 201 and r.json()["documents"][0]["source"] == "uploads/hip.md"
        doc_id = r.json()["documents"][0]["doc_id"]
        listed = {d["doc_id"]: d["source"] for d in c.get("/documents").json()["documents"]}
        assert listed[doc_id] == "uploads/hip.md"
        hits = c.post("/search", json={"query": "hip joint groin", "mode": "bm25"}).json()["hits"]
        assert hits[0]["doc_id"] == doc_id and hits[0]["source"] == "uploads/hip.md"
        answer = c.post("/ask", json={"question": "Where is hip joint pain felt?"}).json()
        sources = [ref["source"] for ref in answer["references"]]
        assert "uploads/hip.md" in sources
        assert not any(str(index_dir) in s for s in sources)


def test_ingest_refuses_a_file_whose_id_another_file_holds(tmp_path):
    from service.pipeline import ingest_paths
    from index.embedder import FakeEmbedder

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "0000001.xml").write_text(MEDQUAD_XML.format(source="GARD"), encoding="utf-8")
    report = ingest_paths([tmp_path / "a", tmp_path / "b"], tmp_path / "idx", FakeEmbedder())
    first, second = str(tmp_path / "a" / "0000001.xml"), str(tmp_path / "b" / "0000001.xml")
    assert report.added == 1
    assert report.conflicts == [(second, "GARD_0000001", first)]
    assert report.failed == [(second, f"document id 'GARD_0000001' is already used by {first}")]
    # A second run does not let it in either, and the first file's document is untouched.
    again = ingest_paths([tmp_path / "b"], tmp_path / "idx", FakeEmbedder())
    assert again.conflicts == [(second, "GARD_0000001", first)] and again.added == 0
