"""The viewer against hostile query parameters and headers: a clean 400/404/416 (never 500), or
the correct answer, and nothing read but the catalog's listed files.

Truth: HTTP semantics (RFC 9110 for Range), the catalog rows of the fixture's panoramas
(conftest), and Python's audit events for every file opened while the requests are answered.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import pytest

from rovercam.testing.web import raw_get
from rovercam.viewer.ranges import RangeNotSatisfiable, parse_range

_opened: list[str] = []
_hook = {"installed": False, "recording": False}


def _audit(event: str, args: tuple) -> None:
    if _hook["recording"] and event == "open" and isinstance(args[0], (str, Path)):
        _opened.append(str(args[0]))


@contextlib.contextmanager
def _recording():
    """Record the paths Python opens inside the block (into ``_opened``)."""
    if not _hook["installed"]:
        sys.addaudithook(_audit)  # once: audit hooks cannot be removed
        _hook["installed"] = True
    _opened.clear()
    _hook["recording"] = True
    try:
        yield _opened
    finally:
        _hook["recording"] = False


FILE = "SYN_NAVCAM-LEFT_EQR_thumb.png"


@pytest.mark.parametrize("path, headers, statuses", [
    ("/api/outputs/%27%20OR%20%271%27%3D%271.json", {}, {404}),
    ("/api/outputs/%25.json", {}, {404}),
    ("/api/outputs/_.json", {}, {404}),
    ("/api/outputs/" + "A" * 50_000 + ".json", {}, {404, 414, 431}),
    ("/tiles/{id}/" + "9" * 40 + "/0/0.jpg", {}, {404}),
    ("/tiles/{id}/0/0/-1.jpg", {}, {404}),
    ("/api/outputs/{id}/value.json?x=nan&y=1", {}, {400}),
    ("/api/outputs/{id}/value.json?x=-inf&y=1", {}, {400}),
    ("/api/outputs/{id}/value.json?x=1" + "0" * 5000 + "&y=1", {}, {400}),
    ("/api/outputs/{id}/value.json?x=1%27%20OR%201%3D1&y=1", {}, {400}),
    ("/api/outputs/{id}/value.json?x=1e308&y=1e308", {}, {200}),
    ("/api/outputs/{id}/value.json?az=1e308&el=0", {}, {200, 400}),
    ("/files/{id}/%252e%252e%252fcatalog.sqlite", {}, {404}),
    ("/files/{id}/" + FILE + "%00.txt", {}, {400, 404}),
    ("/files/%25/" + FILE, {}, {404}),
    ("/files/{id}/" + "a" * 5000, {}, {404}),
    ("/files/{id}/" + FILE, {"Range": "bytes=" + "9" * 10000 + "-"}, {416}),
    ("/files/{id}/" + FILE, {"Range": "bytes=0-" + "9" * 10000}, {206}),
    ("/files/{id}/" + FILE, {"Range": "bytes=-" + "9" * 10000}, {206}),
    ("/files/{id}/" + FILE, {"Range": "bytes=\u0663-"}, {200}),
])
def test_hostile_requests_get_a_clean_answer(server_url, viewer_store, path, headers, statuses):
    (viewer_store.root / "canary.txt").write_bytes(b"canary-bytes")
    with _recording():
        status, body = raw_get(server_url, path.format(id=viewer_store.left_id), headers)
    assert status in statuses, (path[:80], status)
    assert b"canary-bytes" not in body
    root = str(Path(viewer_store.root).resolve())
    inside = {str(Path(p).resolve()) for p in _opened if str(Path(p).resolve()).startswith(root)}
    assert all(FILE in p or p.endswith(".stac.json") for p in inside), inside


@pytest.mark.parametrize("header, size, expected", [
    ("bytes=0-" + "9" * 5000, 100, (0, 100)),        # an end past the file is cut to the file
    ("bytes=-" + "9" * 5000, 100, (0, 100)),         # a suffix past the file is the whole file
    ("bytes=" + "0" * 5000 + "1-2", 100, (1, 3)),    # leading zeros are still the number
])
def test_ranges_with_thousands_of_digits(header, size, expected):
    rng = parse_range(header, size)
    assert (rng.start, rng.stop) == expected


def test_a_start_with_thousands_of_digits_is_not_satisfiable():
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=" + "9" * 5000 + "-", 100)


def test_the_audit_hook_sees_the_served_file(server_url, viewer_store):
    """Control: a listed file's read is seen, so the checks above are not vacuous."""
    with _recording():
        status, _ = raw_get(server_url, f"/files/{viewer_store.left_id}/{FILE}")
    assert status == 200 and any(p.endswith(FILE) for p in _opened), _opened
