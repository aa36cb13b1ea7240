"""Hostile sources: every attack of rovercam.testing.hostile, served live on 127.0.0.1, is refused
with a reason through the real Source.fetch, nothing lands outside the staging folder, memory
stays bounded, and the good products of the same sol are fetched (and, through ingest-sol,
published).

Truth: the server's own case list (what each name and transfer does), the bytes it serves, and
a snapshot of the folder around the staging folder before and after.
"""
from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from rovercam.config import load
from rovercam.errors import LabelSyntaxError, ProductError
from rovercam.products import read_product
from rovercam.sources import MANIFEST_NAME, FetchResult, display_name, open_source
from rovercam.testing.hostile import (
    CASES,
    hostile_server,
    outside_writes,
    tree_snapshot,
)

SOL = 100
# small limits, so that the endless and 100 MB cases end in milliseconds; deadline 1 s for the drip
FETCH = {"max_product_bytes": 8 << 20, "deadline_s": 1.0, "retries": 1, "backoff_s": 0.01,
         "timeout_s": 5.0}


@pytest.fixture(scope="module")
def watched(tmp_path_factory) -> Path:
    """The folder snapshotted around each fetch; the 'absolute' names point into it."""
    return tmp_path_factory.mktemp("watched")


@pytest.fixture(scope="module")
def hostile(tiny_sol, watched):
    with hostile_server(tiny_sol / "raw", sol=SOL, escape_dir=watched,
                        bomb_bytes=64 << 20) as server:
        yield server


def _settings(**fetch):
    return load(environ={}, overrides={"fetch": {**FETCH, **fetch}})


def _source(hostile, kind: str, **fetch):
    url = hostile.volume_url if kind == "volume" else hostile.feed_url
    return open_source(url, kind="http-volume" if kind == "volume" else "feed",
                       settings=_settings(**fetch))


def _fetch(hostile, kind: str, names: list[str], dest: Path, watched: Path,
           **fetch) -> FetchResult:
    """Fetch the named products (and only them); assert nothing was written outside ``dest``."""
    src = _source(hostile, kind, **fetch)
    products = [p for p in src.list(SOL) if p.name in names]
    assert sorted(p.name for p in products) == sorted(names)
    before = tree_snapshot(watched)
    result = src.fetch(products, dest)
    assert outside_writes(before, tree_snapshot(watched), [dest]) == []
    assert not list(watched.rglob("escape_*"))
    return result


def _outcome(result: FetchResult, name: str) -> tuple[str, str] | None:
    shown = display_name(name, 200)
    for outcome, problems in (("refused", result.refused), ("failed", result.failed)):
        for p in problems:
            if p.name == shown:
                return outcome, p.reason
    return None


CASE_PARAMS = [pytest.param(kind, case, id=f"{kind}-{case.name}")
               for case in CASES for kind in case.kinds]


@pytest.mark.parametrize("kind, case", CASE_PARAMS)
def test_each_attack_is_refused_and_the_good_products_still_come(hostile, watched, kind, case):
    name = hostile.listed[kind][case.name]
    good = hostile.good[kind]
    dest = watched / "root" / "incoming" / f"{kind}-{case.name}"
    result = _fetch(hostile, kind, [name, *good], dest, watched)
    # the sol goes on: every good product arrived, byte for byte
    assert sorted(p.name for p in result.products if p.name != name) == sorted(good)
    if case.name == "gzip-file":  # fetched as the few bytes it is; the readers never expand it
        [fetched] = [p for p in result.products if p.name == name]
        assert Path(fetched.path).stat().st_size < 2 << 20
        with pytest.raises(ProductError, match="not a PDS3"):
            read_product(fetched.path)
        return
    got = _outcome(result, name)
    assert got is not None, f"{case.name} was not refused: {result.to_dict()}"
    outcome, reason = got
    assert outcome in case.outcomes and reason
    # the staging folder holds the good products and the manifest: no part of the attack, no
    # temporary left over
    files = {Path(f).name for p in result.products if p.name in good for f in p.files}
    assert {p.name for p in dest.iterdir()} == {*files, MANIFEST_NAME}


EXPECTED_REASONS = {
    "traversal": "path component '..'", "absolute": "absolute path", "nul-raw": "control character",
    "nul-encoded": "control character", "long-name": "name of 304 bytes",
    "long-path": "path of 5004 bytes", "length-short": "longer than its Content-Length",
    "length-long": "truncated transfer", "endless": "over the product limit",
    "drip": "transfer deadline", "redirect-host": "another host",
    "redirect-scheme": "not an http(s) URL", "gzip-bomb": "Content-Encoding 'gzip'",
    "label-100mb": "over the label limit", "label-100mb-stream": "over the label limit",
    "attached-label-100mb": "over the product limit", "big-sidecar": "over the label limit",
}


def test_every_reason_says_what_was_wrong(hostile, watched):
    dest = watched / "root" / "incoming" / "reasons"
    for kind in ("volume", "feed"):
        listed = hostile.listed[kind]
        result = _fetch(hostile, kind, [*listed.values(), *hostile.good[kind]], dest / kind,
                        watched)
        for case, name in listed.items():
            if case == "gzip-file":
                continue
            _, reason = _outcome(result, name)
            assert EXPECTED_REASONS[case] in reason, (case, reason)


def test_memory_stays_bounded_while_the_attacks_stream(hostile, watched):
    # default product limit (4 GiB): the endless body is cut by the deadline, not the size
    dest = watched / "root" / "incoming" / "memory"
    names = [hostile.listed["volume"][c] for c in
             ("label-100mb-stream", "endless", "length-short", "gzip-bomb")]
    tracemalloc.start()
    try:
        result = _fetch(hostile, "volume", names, dest, watched, max_product_bytes=4 << 30,
                        deadline_s=0.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result.refused) == 4
    assert peak < 16 << 20, peak  # bytes: chunks of 1 MiB, never a body whole


def test_a_100mb_attached_label_never_reaches_the_parser_whole(hostile, watched):
    # with a product limit above 100 MB the file is fetched (streamed to disk), then the PDS3
    # reader reads at most its 4 MiB label limit and refuses it
    name = hostile.listed["volume"]["attached-label-100mb"]
    dest = watched / "root" / "incoming" / "attached"
    result = _fetch(hostile, "volume", [name], dest, watched, max_product_bytes=200 << 20,
                    deadline_s=30.0)
    [fetched] = result.products
    assert Path(fetched.path).stat().st_size == 100 << 20
    tracemalloc.start()
    try:
        with pytest.raises(LabelSyntaxError, match="no END statement in the first 4194304"):
            read_product(fetched.path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, peak  # bytes: the label limit and its text, not 100 MB
    Path(fetched.path).unlink()


def test_a_redirect_to_an_allowed_host_is_followed(hostile, watched, tiny_sol):
    name = hostile.listed["volume"]["redirect-host"]
    dest = watched / "root" / "incoming" / "allowed"
    result = _fetch(hostile, "volume", [name], dest, watched, redirect_hosts=["localhost"])
    [fetched] = result.products
    target = tiny_sol / "raw" / min(hostile.good["volume"])  # where the redirect leads
    assert hashlib.sha256(Path(fetched.path).read_bytes()).hexdigest() == \
        hashlib.sha256(target.read_bytes()).hexdigest()


@pytest.mark.e2e
def test_ingest_sol_publishes_the_good_and_reports_each_attack(tiny_sol, tmp_path,
                                                               prefect_harness):
    from rovercam_flows.ingest_sol import ingest_sol

    watched = tmp_path / "watched"
    root = watched / "root"
    root.mkdir(parents=True)
    with hostile_server(tiny_sol / "raw", sol=SOL, escape_dir=watched,
                        bomb_bytes=64 << 20) as hostile:
        before = tree_snapshot(watched)
        overrides = {"storage": {"root": str(root)}, "fetch": FETCH,
                     "calibration": {"search_path": [str(tiny_sol / "calibration")]}}
        [report] = ingest_sol(source=hostile.volume_url, sol=SOL, overrides=overrides)
        after = tree_snapshot(watched)
    assert outside_writes(before, after, [root]) == []
    assert not list(watched.rglob("escape_*"))
    # the good products went through: 8 ingested (the generator's truncated one quarantined),
    # both Navcam mosaics published
    good = set(hostile.good["volume"])
    assert good <= set(report["fetched"])
    assert sorted(p["instrument"] for p in report["published"]) == ["NAVCAM_LEFT", "NAVCAM_RIGHT"]
    assert len(report["ingested"]) == 8
    # every attack is in the report with its reason: refused at fetch (quarantined), failed at
    # fetch, or quarantined by ingest (the gzip file)
    problems = {}
    for q in report["quarantined"]:
        problems[q["path"].rsplit("/", 1)[-1] if "incoming" in q["path"]
                 else q["path"].split(": ", 1)[1]] = q["reason"]
    problems.update({f["product_id"]: f["reason"] for f in report["failed"]})
    for case, name in hostile.listed["volume"].items():
        assert display_name(name, 200) in problems, (case, sorted(problems))
        assert problems[display_name(name, 200)]


def test_the_fetch_deadline_ends_the_call_with_a_complete_result(hostile, watched):
    # per-file deadline 30 s, whole call 0.5 s: the dripping body is cut at the call's deadline
    # and the products after it are reported, not fetched (the Prefect task passes 0.9 x its
    # timeout, so that its report is complete before the task is killed)
    src = _source(hostile, "volume", deadline_s=30.0)
    drip = hostile.listed["volume"]["drip"]
    products = sorted((p for p in src.list(SOL) if p.name in {drip, *hostile.good["volume"]}),
                      key=lambda p: p.name != drip)  # the drip first
    result = src.fetch(products, watched / "root" / "incoming" / "deadline", deadline_s=0.5)
    assert result.products == () and result.refused == ()
    reasons = {p.name: p.reason for p in result.failed}
    assert "the fetch's deadline passed" in reasons[drip]
    assert all("not fetched: the fetch's 0.5 s passed" in reasons[n] for n in hostile.good["volume"])
