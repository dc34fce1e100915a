"""Debian's Chromium under Playwright for the browser tests: one launch recipe (no downloads, no network)."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless, and without the background connections this machine's closed network refuses.
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_page(width: int, height: int) -> Iterator:
    """Yield a Playwright page of that viewport in Debian's Chromium; skip when Chromium is absent."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (make browser-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser.new_page(viewport={"width": width, "height": height})
        browser.close()
