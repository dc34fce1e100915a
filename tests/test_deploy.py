"""deploy/: the Dockerfile and compose file are checked (no Docker engine here); replicas run read-only."""
from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml

from service.pipeline import ingest_paths
from index.embedder import FakeEmbedder

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
dockerfile_parse = pytest.importorskip("dockerfile_parse", reason="dockerfile-parse is in the test extra")
compose_spec = pytest.importorskip("compose_spec", reason="compose-spec is in the test extra")


def dockerfile():
    """The parsed deploy/Dockerfile."""
    return dockerfile_parse.DockerfileParser(path=str(DEPLOY / "Dockerfile"))


def compose() -> dict:
    """deploy/docker-compose.yml as plain data, anchors resolved."""
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def test_dockerfile_builds_an_offline_image_of_this_project():
    parsed = dockerfile()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    python = project["project"]["requires-python"]  # ">=3.11,<3.12"
    assert parsed.baseimage == "python:3.11-slim" and "3.11" in python
    env = parsed.envs
    assert env["HF_HUB_OFFLINE"] == "1" and env["MEDCITE_INDEX"] == "/index"
    copied = {src for i in parsed.structure if i["instruction"] == "COPY" for src in i["value"].split()[:-1]}
    assert set(project["tool"]["setuptools"]["packages"]) <= copied  # every package the wheel needs
    assert "pyproject.toml" in copied and "README.md" in copied  # pyproject's readme
    run = " ".join(i["value"] for i in parsed.structure if i["instruction"] == "RUN")
    torch_pin = next(d for d in project["project"]["dependencies"] if d.startswith("torch"))
    assert f"pip install {torch_pin} --index-url https://download.pytorch.org/whl/cpu" in run
    assert "load_embedder()" in run  # the ONNX export is built into the image, not at first start
    user = [i["value"] for i in parsed.structure if i["instruction"] == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert parsed.cmd == '["medcite", "serve", "--host", "0.0.0.0", "--port", "8000"]'
    for path in copied - {"pyproject.toml", "README.md"}:
        assert (ROOT / path).is_dir(), path


def test_compose_file_is_valid_compose_spec():
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    parsed = compose_spec.PyCompose.from_yaml(text)
    assert set(parsed.service_names()) == {"writer", "replica-1", "replica-2", "lb", "ingest"}
    with pytest.raises(ValueError):
        compose_spec.PyCompose.from_yaml(text.replace("read_only: true", "read_only_typo: true", 1))


def test_replicas_are_read_only_and_only_the_writer_writes():
    services = compose()["services"]
    replicas = [name for name in services if name.startswith("replica-")]
    assert len(replicas) >= 2
    for name in replicas:
        spec = services[name]
        assert spec["volumes"] == ["index:/index:ro"] and spec["read_only"] is True
        assert "MEDCITE_API_KEY" not in spec["environment"]  # write endpoints answer 403 there
    writers = [n for n, s in services.items() if "index:/index" in s.get("volumes", []) and "profiles" not in s]
    assert writers == ["writer"] and "MEDCITE_API_KEY" in services["writer"]["environment"]
    assert services["ingest"]["profiles"] == ["ingest"] and "index:/index" in services["ingest"]["volumes"]
    build = services["writer"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    for spec in services.values():
        for dep in spec.get("depends_on", []):
            assert dep in services


def test_balancer_sends_reads_to_replicas_and_writes_to_the_writer():
    conf = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    services = compose()["services"]
    upstream = re.search(r"upstream replicas \{(.*?)\}", conf, re.S).group(1)
    assert sorted(re.findall(r"server ([\w-]+):8000", upstream)) == sorted(n for n in services if n.startswith("replica-"))
    documents = re.search(r"location /documents \{(.*?)\n    \}", conf, re.S).group(1)
    assert "if ($request_method = POST) { proxy_pass http://writer; }" in documents
    assert "if ($request_method = DELETE) { proxy_pass http://writer; }" in documents
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["lb"]["volumes"]
    assert services["lb"]["ports"] == ["127.0.0.1:8080:8080"]


# --- two replicas over one index, for real, on loopback --------------------------------------------------


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under the index directory."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def files_open_for_writing(pid: int, root: Path) -> list[str]:
    """Files under root that the process holds open with O_WRONLY or O_RDWR (from /proc)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
            flags = int(Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError):
            continue
        if target.startswith(str(root)) and flags & (os.O_WRONLY | os.O_RDWR):
            found.append(target)
    return found


def start_replica(index: Path, port: int) -> subprocess.Popen:
    """`medcite serve` on 127.0.0.1:port with the test embedder and no API key."""
    env = {**os.environ, "MEDCITE_MODEL": "fake", "PYTHONPATH": str(ROOT)}
    env.pop("MEDCITE_API_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "service", "serve", "--index", str(index), "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_two_replicas_serve_one_index_read_only(tmp_path):
    from api_support import free_port, wait_http_ready

    ingest_paths([ROOT / "corpus"], tmp_path / "idx", FakeEmbedder())
    index = (tmp_path / "idx").resolve()
    before = snapshot(index)
    ports = [free_port(), free_port()]
    procs = [start_replica(index, port) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, proc in zip(bases, procs):
            wait_http_ready(base, 60, proc, 0.2)
        question = {"query": "What causes buttock pain?", "top_k": 5}
        results = [httpx.post(base + "/search", json=question, timeout=30).json() for base in bases]
        assert results[0] == results[1] and len(results[0]["hits"]) == 5
        answers = [httpx.post(base + "/ask", json={"question": "What causes buttock pain?"}, timeout=30).json()
                   for base in bases]
        assert answers[0]["summary"] == answers[1]["summary"]
        for base in bases:
            upload = httpx.post(base + "/documents", files={"file": ("a.md", b"# A\n\nText.\n")}, timeout=10)
            assert upload.status_code == 403  # no API key: a replica never writes
        for proc in procs:
            assert files_open_for_writing(proc.pid, index) == []
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    assert snapshot(index) == before
