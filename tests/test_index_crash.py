"""SIGKILL an ingest at random moments: the index must always open and serve, vectors == chunks."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from index.embedder import FakeEmbedder
from index.manifest import generation_numbers
from index.store import Index

REPO = Path(__file__).resolve().parents[1]
KILLS = 22

# The child ingests with the fake embedder, slowed a little, committing after every file (checkpoint 0),
# so kills land in every phase: reading, embedding, sqlite writes, faiss save, manifest, CURRENT flip, GC.
CHILD = """
import sys, time
from index.embedder import FakeEmbedder
from service.pipeline import ingest_paths

class Slow(FakeEmbedder):
    def embed(self, texts):
        time.sleep(0.005)
        return super().embed(texts)

ingest_paths([sys.argv[1]], sys.argv[2], Slow(), prune=True, checkpoint_s=0)
"""


def write_corpus(folder: Path, round_: int, rng: random.Random) -> None:
    """40 small text files; each round rewrites a random third of them and deletes or restores a few."""
    folder.mkdir(exist_ok=True)
    for i in range(40):
        path = folder / f"note{i:02d}.txt"
        if round_ and rng.random() < 0.1:
            path.unlink(missing_ok=True)
        elif not path.exists() or rng.random() < 0.33:
            body = " ".join(f"Note {i} round {round_} mentions topic{(i * 7 + j) % 50} and fever." for j in range(30))
            path.write_text(f"Note {i}\n\n{body}\n")


def run_child(corpus: Path, index: Path) -> subprocess.Popen:
    """Start an ingest in a child process."""
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    return subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(index)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def assert_serves(index_dir: Path) -> Index:
    """The index opens (checksums verified), counts agree, and all three search modes answer."""
    index = Index.open(index_dir, FakeEmbedder())
    assert len(index) == index.vector_count == index.manifest["counts"]["chunks"] > 0
    for mode in ("bm25", "dense", "hybrid"):
        assert index.search("fever topic3", k=3, mode=mode)
    return index


def test_sigkill_at_random_moments_never_breaks_the_index(tmp_path):
    rng = random.Random(1234)
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    write_corpus(corpus, 0, rng)
    started = time.monotonic()
    assert run_child(corpus, index_dir).wait(timeout=60) == 0
    duration = time.monotonic() - started
    assert_serves(index_dir)
    for round_ in range(1, KILLS + 1):
        write_corpus(corpus, round_, rng)
        child = run_child(corpus, index_dir)
        time.sleep(rng.uniform(0.2, 1.1) * duration)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert_serves(index_dir)
    assert run_child(corpus, index_dir).wait(timeout=60) == 0
    final = assert_serves(index_dir)
    on_disk = sorted(p.name for p in corpus.glob("*.txt"))
    assert sorted(Path(d.source).name for d in final.documents()) == on_disk
    assert len(generation_numbers(index_dir)) <= 2  # leftovers of killed writers were collected
