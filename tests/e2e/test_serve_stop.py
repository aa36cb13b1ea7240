"""`rovercam serve` against a real `prefect server`, stopped the way a service manager stops it:
SIGTERM, answered within 10 s, exit status 0, no traceback."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rovercam.testing.web import healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, proc: subprocess.Popen, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before {what}")
        if predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"no {what} within {timeout:.0f} s")


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def test_serve_stops_within_10_s_on_sigterm_without_a_traceback(tmp_path):
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1")
    env.pop("PREFECT_API_URL", None)
    bindir = Path(sys.executable).parent
    server = subprocess.Popen([str(bindir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=open(tmp_path / "server.log", "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    serve = None
    try:
        _wait(lambda: healthy(f"{api}/health"), server, 180, "healthy Prefect server")
        log = tmp_path / "serve.log"
        serve = subprocess.Popen([sys.executable, "-m", "rovercam.cli", "serve"], env={**env, "PREFECT_API_URL": api},
                                 cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
        _wait(lambda: "deployments are being served" in log.read_text(), serve, 180, "serving message")
        time.sleep(2)  # the runner is polling
        t0 = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(30)
        took = time.monotonic() - t0
        text = log.read_text()
        assert took < 10, f"stopped after {took:.1f} s"
        assert code == 0, text[-3000:]
        assert "Traceback" not in text and "never awaited" not in text, text[-3000:]
    finally:
        if serve is not None:
            _kill(serve)
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            _kill(server)
