"""Debian's headless Chromium driven by Playwright (the driver only; no browser is downloaded),
for the browser tests: one place that knows the binary, its flags and how a page is opened."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--allow-loopback-in-peer-connection",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@contextlib.contextmanager
def chromium(args: list[str], width: int, height: int) -> Iterator[Any]:
    """A headless Chromium context on a throwaway profile, closed afterwards."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with tempfile.TemporaryDirectory() as profile, playwright_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=args,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
