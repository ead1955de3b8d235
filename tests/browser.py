"""Debian's Chromium for the browser tests (the explore page, the serve page), and the
check that it and the Python modules a test needs are installed."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser(*modules: str) -> None:
    """Skip the test unless Chromium, Playwright and ``modules`` are installed; fail
    instead when KPALETTE_REQUIRE_BROWSER is set (CI installs them: see .ci/run)."""
    missing = [] if CHROMIUM else ["chromium (apt-get install chromium)"]
    missing += [
        f"{module} (pip install '.[dev]')"
        for module in ("playwright", *modules)
        if importlib.util.find_spec(module) is None
    ]
    if missing:
        if os.environ.get("KPALETTE_REQUIRE_BROWSER"):
            pytest.fail(f"not installed: {', '.join(missing)} (CI installs them: see .ci/run)")
        pytest.skip(f"not installed: {', '.join(missing)}")
