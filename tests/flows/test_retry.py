"""Retry policy: permanent errors fail a task at once, transient ones are retried with backoff.

Truth: the error kinds named in docs/operations.md ("Retry policy"), a local HTTP server that
answers 404 or 503, and the number of attempts each task made.
"""
from __future__ import annotations

import http.server
import logging
import sys
import threading
import urllib.error

import pytest

from rovercam.errors import (CalibrationError, ConfigError, ProductError, SourceError, StorageError, TransientError,
                             is_transient)
from rovercam.sources import SourceUnavailableError, TransientSourceError


class _ClientError(Exception):
    """Shaped like botocore's ClientError (a ``response`` dict), without botocore."""

    def __init__(self, code: str, status: int):
        super().__init__(code)
        self.response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}


@pytest.mark.parametrize("exc, transient", [
    (SourceError("/data/sol1", "no such folder"), False),
    (SourceError("http://h/x.IMG", "HTTP 404 Not Found"), False),
    (ProductError("x.IMG", "refused: label declares 4096 bytes"), False),
    (ConfigError("[mosaic] projection: bad value"), False),
    (CalibrationError("M20_LUT2", "not found"), False),
    (StorageError("/root: outside the storage root"), False),
    (FileNotFoundError("x"), False),
    (PermissionError("x"), False),
    (NameError("a bug"), False),
    (ValueError("a bug"), False),
    (TransientSourceError("http://h/x", "HTTP 503 Service Unavailable"), True),
    (SourceUnavailableError("http://h/x", "HTTP 503 (after 4 attempts)"), True),
    (TimeoutError("read timed out"), True),
    (ConnectionResetError("reset by peer"), True),
    (ConnectionRefusedError("refused"), True),
    (urllib.error.HTTPError("http://h/x", 503, "Service Unavailable", None, None), True),
    (urllib.error.HTTPError("http://h/x", 404, "Not Found", None, None), False),
    (_ClientError("SlowDown", 503), True),
    (_ClientError("Throttling", 400), True),
    (_ClientError("NoSuchKey", 404), False),
    (OSError(5, "I/O error"), True),
])
def test_errors_are_sorted_into_transient_and_permanent(exc, transient):
    assert is_transient(exc) is transient
    assert isinstance(exc, TransientError) == (transient and isinstance(exc, TransientError))


def test_the_policy_doubles_each_delay_and_retries_only_transient_errors():
    from rovercam_tasks.retry import JITTER, retry_policy, retry_transient

    policy = retry_policy(3, 5)
    assert policy["retries"] == 3 and policy["retry_delay_seconds"] == [5, 10, 20]
    assert policy["retry_jitter_factor"] == JITTER and policy["retry_condition_fn"] is retry_transient


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/missing`` answers 404; ``/flaky`` answers 503 to its first ``flaky_failures`` requests."""

    calls: dict[str, int] = {}
    flaky_failures = 2

    def do_GET(self):  # noqa: N802 - the http.server name
        n = self.calls[self.path] = self.calls.get(self.path, 0) + 1
        if self.path == "/missing" or (self.path == "/flaky" and n <= self.flaky_failures):
            self.send_error(404 if self.path == "/missing" else 503)
            return
        body = b"product bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture()
def server():
    _Handler.calls = {}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _download_task():
    """A task with the pipeline's policy (delays of 0 s: the count of attempts is the point)."""
    from prefect import task

    from rovercam.sources.transfer import http_read
    from rovercam_tasks.retry import retry_policy

    @task(name="download", **{**retry_policy(2, 0), "retry_delay_seconds": 0})
    def download(url: str) -> bytes:
        return http_read(url, timeout_s=5, max_bytes=1 << 20)  # no retries of the source's own here

    return download


def test_a_permanent_error_fails_at_once(server, prefect_harness):
    from prefect import flow

    @flow
    def get(url: str) -> bytes:
        return _download_task()(url)

    with pytest.raises(SourceError, match="404"):
        get(f"{server}/missing")
    assert _Handler.calls["/missing"] == 1  # no retry


def test_a_transient_error_is_retried_then_succeeds(server, prefect_harness):
    from prefect import flow

    @flow
    def get(url: str) -> bytes:
        return _download_task()(url)

    assert get(f"{server}/flaky") == b"product bytes"
    assert _Handler.calls["/flaky"] == 3  # two 503s, two retries, then 200


def test_a_missing_source_folder_is_not_retried(tmp_path, prefect_harness, monkeypatch):
    """`rovercam run --input <missing folder>`: the fetch task fails once, quickly."""
    import time

    from prefect import flow

    from rovercam.config import load
    from rovercam_tasks import fetch

    calls = []
    real = fetch.fetch_sol
    monkeypatch.setattr(fetch, "fetch_sol", lambda *a: calls.append(a) or real(*a))
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "root")}})

    @flow
    def run() -> dict:
        return fetch.fetch_new.submit(str(tmp_path / "no-such-folder"), 1, settings).result()

    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="no such folder"):
        run()
    assert len(calls) == 1 and time.perf_counter() - t0 < 10  # s: the old policy waited 10 s + 60 s


def test_expected_errors_reach_the_console_without_their_traceback():
    from rovercam_flows.console import ExpectedErrorFormatter

    fmt = ExpectedErrorFormatter(logging.Formatter("%(levelname)s %(message)s"))

    def record(exc):
        try:
            raise exc
        except Exception:
            return logging.LogRecord("prefect.task_runs", logging.ERROR, __file__, 1, "Task run failed: %r",
                                     (exc,), sys.exc_info())

    log = logging.getLogger("rovercam")
    level = log.level
    try:
        log.setLevel(logging.INFO)
        quiet = fmt.format(record(SourceError("/data/sol1", "no such folder")))
        assert "Traceback" not in quiet and len(quiet.splitlines()) == 1 and "no such folder" in quiet
        assert "Traceback" in fmt.format(record(NameError("a bug")))  # an unexpected error keeps it
        log.setLevel(logging.DEBUG)  # rovercam -v
        assert "Traceback" in fmt.format(record(SourceError("/data/sol1", "no such folder")))
    finally:
        log.setLevel(level)
