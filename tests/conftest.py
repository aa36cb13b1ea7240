"""Shared fixtures: real-data folder, an isolated Prefect home, one Prefect test server per session."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from _apt import apt_install

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"

# Isolate Prefect before anything imports it: a private home, no telemetry, a patient server start.
_PREFECT_HOME = tempfile.mkdtemp(prefix="rovercam-prefect-home-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.pop("PREFECT_API_URL", None)
os.environ.pop("ROVERCAM_CONFIG", None)


@pytest.fixture(scope="session")
def realdata() -> Path:
    """../shared/realdata, or skip when this checkout has no shared folder beside it."""
    if not REALDATA.is_dir():
        pytest.skip(f"real products not available ({REALDATA} is absent)")
    return REALDATA


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (it takes ~10-15 s to start here)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's Chromium (installed by apt-get in CI as root; skips when absent)."""
    from rovercam.testing import CHROMIUM as path
    note = ""
    if not os.path.exists(path):
        note = apt_install("chromium")
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (apt-get install chromium); {note}")
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    """A Playwright Chromium browser driving Debian's binary (no browser download).

    Module-scoped: Playwright's sync API keeps an event loop on the main thread while it is open,
    which makes libraries that dispatch on "am I in async code?" (Prefect) change behaviour in
    tests that run later.
    """
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install 'rovercam[test]')")
    with sync_api.sync_playwright() as p:
        from rovercam.testing import CHROMIUM_ARGS

        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()
