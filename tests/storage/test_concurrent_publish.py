"""Concurrent publishers of one prefix, as separate processes, on local disk and on S3 (moto):
every publish gets its own version, none is lost, ``LATEST`` ends at the highest, nothing staged
is left. And a version committed by a publisher killed before it moved ``LATEST`` is finished by
the next publish of the same files, not written again.

Truth: what each process was told it published, against the store's version records, folders
and pointer.
"""
from __future__ import annotations

import json
import multiprocessing
import threading
import uuid
from pathlib import Path

import pytest

from rovercam.errors import StorageError
from rovercam.storage import Store

PREFIX = "sol00100/mosaics/NCAM_CYL"
# spawn, not fork: a forked child inherits whatever threads the test session runs (a Prefect
# server client, its log workers) and may fail at exit; a spawned one starts clean
_ctx = multiprocessing.get_context("spawn")


def _publish_many(root: str, options: dict, who: int, rounds: int, out) -> None:
    store = Store(root, storage_options=options)
    got = []
    for i in range(rounds):
        files = {"mosaic.tif": f"{who}-{i}".encode() * 100, "preview.png": b"same"}
        got.append((store.publish(PREFIX, files, render=lambda v: {"item.json": f"v{v}".encode()}).version,
                    f"{who}-{i}"))
    out.put(got)


def _race(root: str, options: dict, *, processes: int, rounds: int) -> list[tuple[int, str]]:
    out = _ctx.Queue()
    procs = [_ctx.Process(target=_publish_many, args=(root, options, w, rounds, out)) for w in range(processes)]
    for p in procs:
        p.start()
    results = [v for _ in procs for v in out.get(timeout=300)]
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * processes
    return results


def _check(store: Store, results: list[tuple[int, str]]) -> None:
    versions = sorted(v for v, _ in results)
    assert len(set(versions)) == len(versions)  # no version handed to two publishers
    assert versions == list(range(1, len(results) + 1))  # contiguous: none lost, none skipped
    committed = store.committed_versions(PREFIX)
    assert sorted(committed) == versions
    for version, tag in results:  # each version holds what its publisher wrote
        assert store.read_bytes(f"{PREFIX}/v{version}/mosaic.tif") == tag.encode() * 100
        assert store.read_bytes(f"{PREFIX}/v{version}/item.json") == f"v{version}".encode()
    latest = json.loads(store.read_bytes(f"{PREFIX}/LATEST"))
    assert latest == {"version": versions[-1], "files": committed[versions[-1]]}
    assert store.fs.find(f"{store.root}/.tmp") == []  # no staging left


def test_concurrent_local_publishers_take_distinct_contiguous_versions(tmp_path: Path) -> None:
    root = str(tmp_path / "store")
    results = _race(root, {}, processes=4, rounds=6)
    _check(Store(root), results)


def test_concurrent_s3_publishers_take_distinct_contiguous_versions() -> None:
    pytest.importorskip("moto")
    from rovercam.testing import moto_s3

    with moto_s3(bucket=f"race-{uuid.uuid4().hex[:12]}") as s3:  # moto keeps buckets for the whole process
        results = _race(s3["root"], s3["storage_options"], processes=3, rounds=4)
        _check(Store(s3["root"], storage_options=s3["storage_options"]), results)


def test_simultaneous_claims_of_one_version_have_one_winner(tmp_path: Path) -> None:
    # fsspec's local create-only write checks, then writes: threads released together by a
    # barrier could both pass the check. O_EXCL lets exactly one create the record.
    store = Store(tmp_path)
    for version in range(1, 41):
        barrier, won = threading.Barrier(6), []

        def claim() -> None:
            barrier.wait()
            if store._claim("p", version) is not None:
                won.append(1)

        threads = [threading.Thread(target=claim) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, f"v{version} claimed {len(won)} times"


def test_version_committed_by_a_killed_publisher_is_finished_not_written_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    store.publish(PREFIX, {"a": b"one"})

    def killed(*_a, **_k):  # the process dies after committing v2, before moving LATEST
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "_advance_latest", killed)
    with pytest.raises(KeyboardInterrupt):
        store.publish(PREFIX, {"a": b"two"})
    monkeypatch.undo()
    assert store.latest(PREFIX).version == 1 and sorted(store.committed_versions(PREFIX)) == [1, 2]
    again = store.publish(PREFIX, {"a": b"two"})  # the rerun
    assert (again.version, again.reused) == (2, True)
    assert store.latest(PREFIX).version == 2 and sorted(store.committed_versions(PREFIX)) == [1, 2]
    assert store.publish(PREFIX, {"a": b"one"}).version == 3  # other content: a new version, as before


def test_failed_publisher_gives_back_only_its_own_claim(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with pytest.raises(StorageError):
        store.publish(PREFIX, {"a": b"x"}, render=lambda v: {"a": b"clash"})  # fails after claiming v1
    assert store.versions(PREFIX) == []  # its claim was given back
    token = store._claim(PREFIX, 1)
    store._give_back(PREFIX, 1, [], "another-token")
    assert store.versions(PREFIX) == [1]  # someone else's claim is left alone
    store._give_back(PREFIX, 1, [], token)
    assert store.versions(PREFIX) == []


def test_s3_latest_is_not_overwritten_when_it_moved_since_it_was_read() -> None:
    pytest.importorskip("moto")
    from rovercam.testing import moto_s3

    with moto_s3(bucket=f"swap-{uuid.uuid4().hex[:12]}") as s3:
        store = Store(s3["root"], storage_options=s3["storage_options"])
        store.publish(PREFIX, {"a": b"one"})
        read = store._latest_etag(PREFIX)  # what a slow publisher read ...
        store.publish(PREFIX, {"a": b"two"})  # ... before a faster one moved LATEST to v2
        stale = json.dumps({"version": 1, "files": store.committed_versions(PREFIX)[1]}).encode()
        assert not store._swap_latest(PREFIX, stale, read, exists=True)  # the conditional PUT is refused
        assert not store._swap_latest(PREFIX, stale, None, exists=False)  # so is a first write over one
        assert store.latest(PREFIX).version == 2
