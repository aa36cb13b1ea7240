"""Shared fixtures: real-data folder, an isolated Prefect home, one Prefect test server per session."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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


#: Flags for headless Chromium on a machine with a closed network (no background connections),
#: with WebGL on SwiftShader (software) for the panorama viewer.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def _install_chromium() -> str:
    """apt-get install chromium (CI as root only); returns what happened, for skip messages."""
    import shutil
    import subprocess

    if os.environ.get("CI") != "true" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not installing it (only done as root with CI=true)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd)} timed out"
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}"
    return "installed with apt-get"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's Chromium (installed by apt-get in CI as root; skips when absent)."""
    path = "/usr/bin/chromium"
    note = ""
    if not os.path.exists(path):
        note = _install_chromium()
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
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()
