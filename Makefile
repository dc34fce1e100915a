# Two commands on a fresh machine: `make serve` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test index browser-deps pdfs bench clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, from the local CPU wheel, so nothing later pulls a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	# the ray extra too: without it the Ray ingest equality tests would skip in CI (they take 30-75 s here)
	$(BIN)/pip install -q -e '.[test,ray]'
	touch $(STAMP)

# Chromium and its driver for the browser test (Debian packages).
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "browser test needs: apt-get install chromium chromium-driver (will be skipped)"; fi; }

index: $(STAMP)
	$(BIN)/medcite ingest corpus --prune

serve: index
	$(BIN)/medcite serve --host $(HOST) --port $(PORT)

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -q

pdfs: $(STAMP)
	$(BIN)/python scripts/make_corpus_pdfs.py

clean:
	rm -rf $(VENV) .medcite
