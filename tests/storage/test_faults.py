"""Storage faults: S3 answering 500/503 or not at all, and a local disk that fills up.

Truth: the bytes given (sha256), the same outputs published on a fault-free local store, the
store's layout (rovercam/storage/store.py) and the audit (rovercam.publish.audit_published). The
faults are real HTTP answers from a proxy in front of moto (rovercam.testing.faults) and a real
ENOSPC from the write calls (rovercam.testing.disk).
"""
from __future__ import annotations

import errno
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rovercam.catalog import Catalog
from rovercam.errors import SourceError, StorageError, StorageUnavailableError, is_transient
from rovercam.publish import audit_published, publish_mosaic
from rovercam.storage import Store
from rovercam.storage.retry import RetryPolicy
from rovercam.testing import sample_mosaic
from rovercam.testing.disk import disk_budget, leftovers, publish_until_full
from rovercam.testing.faults import FaultProxy, even_rates, fault_proxy

#: Client timeouts below the proxy's hang (1 s), so a held request times out quickly.
FAST_CLIENT = {"read_timeout": 0.3, "connect_timeout": 0.3}
FAST_RETRY = RetryPolicy(retries=3, first_delay_s=0.05)


@pytest.fixture
def proxy(moto_s3_server: dict[str, Any]) -> Iterator[FaultProxy]:
    with fault_proxy(moto_s3_server["endpoint_url"], seed=18, hang_s=1.0) as p:
        yield p


def faulty_store(server: dict[str, Any], proxy: FaultProxy, *, client: dict | None = None,
                 retry: RetryPolicy = FAST_RETRY) -> Store:
    options = proxy.storage_options(server["storage_options"])
    options["config_kwargs"] = {**FAST_CLIENT, **(client or {})}
    return Store(f"{server['root']}/{uuid.uuid4().hex}", storage_options=options, retry=retry)


def test_proxy_answers_real_http_errors_and_counts_them(moto_s3_server, proxy):
    store = faulty_store(moto_s3_server, proxy, client={"retries": {"max_attempts": 1}})
    store.publish("p", {"a": b"x"})
    clean = proxy.counts
    assert clean["requests"] == clean["forwarded"] > 0 and clean["injected"] == 0
    proxy.reset_counts()
    proxy.set_rates({500: 1.0})
    with pytest.raises(StorageUnavailableError, match=r"^p/v1/a: .*\(after 4 attempts\)$") as err:
        store.read_bytes("p/v1/a")
    assert is_transient(err.value)
    assert proxy.counts["500"] == proxy.counts["requests"] >= 4 and proxy.counts["forwarded"] == 0
    with pytest.raises(ValueError, match="sum at most 1"):
        proxy.set_rates({500: 0.6, 503: 0.6})
    assert even_rates(0.3) == pytest.approx({500: 0.1, 503: 0.1, "timeout": 0.1}, rel=1e-12)


def test_publish_through_ten_percent_faults_completes_and_audits_clean(moto_s3_server, proxy, tmp_path):
    store = faulty_store(moto_s3_server, proxy)
    local = Store(str(tmp_path / "local"))
    proxy.set_rates(even_rates(0.10))
    mosaics = [sample_mosaic(0, width=200, height=80), sample_mosaic(1, width=200, height=80)]
    with Catalog(tmp_path / "s3.db") as cat, Catalog(tmp_path / "local.db") as cat_local:
        for m in mosaics:  # the second is a new version of the same output
            got = publish_mosaic(m, store=store, catalog=cat)
            want = publish_mosaic(m, store=local, catalog=cat_local)
            assert (got.output_id, got.published.sha256) == (want.output_id, want.published.sha256)
        assert proxy.counts["injected"] > 0, proxy.counts
        proxy.set_rates({})
        assert got.published.version == 2 and store.latest(got.published.prefix).version == 2
        assert audit_published(store, cat, uncommitted="check") == []
        assert leftovers(store) == []


def test_publish_at_full_faults_fails_clearly_and_leaves_the_previous_version(moto_s3_server, proxy, tmp_path):
    store = faulty_store(moto_s3_server, proxy, client={"retries": {"max_attempts": 2}},
                         retry=RetryPolicy(retries=1, first_delay_s=0.01))
    with Catalog(tmp_path / "s3.db") as cat:
        first = publish_mosaic(sample_mosaic(0, width=120, height=60), store=store, catalog=cat)
        proxy.set_rates({500: 1.0})
        with pytest.raises(StorageUnavailableError, match=r"after 2 attempts"):
            publish_mosaic(sample_mosaic(1, width=120, height=60), store=store, catalog=cat)
        assert proxy.counts["forwarded"] == proxy.counts["requests"] - proxy.counts["injected"]
        proxy.set_rates({})
        assert store.latest(first.published.prefix).version == 1
        assert [o.version for o in cat.outputs()] == [1]
        assert audit_published(store, cat, uncommitted="check") == []
        assert leftovers(store) == []


def test_a_publish_failing_midway_through_the_commit_removes_its_version(s3_store, monkeypatch):
    s3_store.publish("p", {"a": b"old"})
    copies = []

    def flaky_copy(source: str, target: str, **kw: Any) -> None:
        if copies:  # the first file lands in v2/, then the store stops answering
            raise ConnectionResetError(errno.ECONNRESET, "connection reset by peer")
        copies.append(target)
        type(s3_store.fs).copy(s3_store.fs, source, target, **kw)

    monkeypatch.setattr(s3_store, "retry", RetryPolicy(retries=1, first_delay_s=0))
    monkeypatch.setattr(s3_store.fs, "copy", flaky_copy)
    with pytest.raises(StorageUnavailableError, match=r"p/v2/\w: connection reset"):
        s3_store.publish("p", {"a": b"new", "b": b"new"})
    monkeypatch.undo()
    assert copies and s3_store.list("p") == ["p/LATEST", "p/v1/a"]
    assert s3_store.versions("p") == [1] and audit_published(s3_store, uncommitted="check") == []
    assert s3_store.publish("p", {"a": b"new", "b": b"new"}).version == 2  # the rerun completes


def test_a_committed_version_left_behind_latest_is_finished_by_the_rerun(s3_store, monkeypatch):
    def fail(*a: Any, **k: Any) -> None:
        raise StorageUnavailableError("p/LATEST: service unavailable (after 4 attempts)")

    monkeypatch.setattr(s3_store, "_advance_latest", fail)
    with pytest.raises(StorageUnavailableError):
        s3_store.publish("p", {"a": b"x"})
    monkeypatch.undo()
    assert s3_store.latest("p") is None and audit_published(s3_store) == []  # nothing visible
    again = s3_store.publish("p", {"a": b"x"})
    assert (again.version, again.reused) == (1, True) and s3_store.latest("p").version == 1


@pytest.fixture(scope="module")
def sol_files(tmp_path_factory) -> list[Path]:
    from rovercam.synth import generate_sol

    out = tmp_path_factory.mktemp("sol") / "sol00100"
    generate_sol(out, sol=100, profile="tiny", seed=3)
    return sorted((out / "raw").glob("*.IMG"))[:4]


def _upload(server: dict[str, Any], files: list[Path]) -> str:
    import s3fs

    fs = s3fs.S3FileSystem(**server["storage_options"])
    prefix = f"{server['root'].removeprefix('s3://')}/{uuid.uuid4().hex}/m2020"
    for p in files:
        fs.put_file(str(p), f"{prefix}/DATA/SOL00100/{p.name}")
    return f"s3://{prefix}"


def test_fetch_through_ten_percent_faults_gets_every_product(moto_s3_server, sol_files, tmp_path):
    from rovercam.sources import open_source

    url = _upload(moto_s3_server, sol_files)
    # seed 2: the 3rd, 4th, 21st, 22nd and 30th of the first 40 requests fail (a fetch of four
    # products makes about twenty)
    with fault_proxy(moto_s3_server["endpoint_url"], rates=even_rates(0.10), seed=2, hang_s=1.0) as proxy:
        options = {**proxy.storage_options(moto_s3_server["storage_options"]), "config_kwargs": FAST_CLIENT}
        src = open_source(url, storage_options=options, retries=3, backoff_s=0.05)
        result = src.fetch(src.list(100), tmp_path / "staging")
        assert proxy.counts["injected"] >= 2, proxy.counts
    assert result.ok and len(result.new) == len(sol_files)
    for p in sol_files:
        assert hashlib.sha256((tmp_path / "staging" / p.name).read_bytes()).hexdigest() == \
            hashlib.sha256(p.read_bytes()).hexdigest()


def test_fetch_at_full_faults_fails_clearly_and_writes_nothing(moto_s3_server, proxy, sol_files, tmp_path):
    from rovercam.sources import open_source

    url = _upload(moto_s3_server, sol_files[:2])
    options = {**proxy.storage_options(moto_s3_server["storage_options"]),
               "config_kwargs": {**FAST_CLIENT, "retries": {"max_attempts": 2}}}
    src = open_source(url, storage_options=options, retries=1, backoff_s=0.01)
    products = src.list(100)
    proxy.set_rates({500: 1.0})
    result = src.fetch(products, tmp_path / "staging")
    assert not result.ok and not result.new and len(result.failed) == len(products)
    assert all("attempts" in f.reason for f in result.failed), result.failed
    assert [p.name for p in (tmp_path / "staging").iterdir() if not p.name.startswith(".")] == []
    with pytest.raises(SourceError, match="attempts"):
        src.list(100)


def test_disk_full_during_publish_fails_clearly_and_leaves_nothing(tmp_path):
    root = tmp_path / "store"
    with disk_budget(root, 5_500_000) as budget:  # two sample mosaics fit (2.3 MB each), then ENOSPC
        report = publish_until_full(str(root), f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    assert budget.refused >= 1 and report["published"] == 2
    assert report["error_type"] == "StorageError" and report["no_space"] and report["names_key"], report
    assert report["leftovers"] == [] and report["audit"] == []
    assert report["catalog_rows"] == report["published"]
    assert not is_transient(OSError(errno.ENOSPC, "No space left on device"))


def test_disk_full_reaches_the_command_line_as_one_line(tmp_path, capsys):
    from rovercam.cli import main

    bad = tmp_path / "NLF_0100_BAD.IMG"
    bad.write_bytes(b"not a product at all" * 100)  # ingest quarantines it: a copy into the store
    root = tmp_path / "store"
    root.mkdir()
    with disk_budget(root, 0):
        status = main(["ingest", str(bad), "--out", str(root)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "no space left on device" in err and "NLF_0100_BAD.IMG" in err, err
    assert leftovers(Store(str(root))) == [] and [k for k in Store(str(root)).list() if "catalog" not in k] == []


def test_store_errors_name_the_key():
    from rovercam.storage.retry import call_with_retry

    def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StorageError, match=r"^k/v1/a.tif: no space left on device$"):
        call_with_retry(full, "k/v1/a.tif", RetryPolicy(retries=3, first_delay_s=0))


def test_audit_finds_a_catalog_row_naming_files_of_another_version(tmp_path):
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "c.db") as cat:
        first = publish_mosaic(sample_mosaic(0, width=120, height=60), store=store, catalog=cat)
        second = publish_mosaic(sample_mosaic(1, width=120, height=60), store=store, catalog=cat)
        assert audit_published(store, cat) == []
        row = next(o for o in cat.outputs() if o.version == 2)
        cat.record_output(output_id=row.output_id, name=row.name, kind=row.kind, sol=row.sol,
                          instrument=row.instrument, version=2, storage_keys=first.published.keys,
                          stac_key=row.stac_key, checksums=first.published.sha256, lineage={})
        problems = audit_published(store, cat)
    assert second.published.version == 2
    assert any("is not" in p and "of v2" in p for p in problems), problems


def test_disk_full_at_the_commit_record_removes_the_renamed_version(tmp_path, monkeypatch):
    store = Store(str(tmp_path / "store"))
    store.publish("p", {"a": b"old"})
    real = store._write_path_atomic

    def full_at_records(path: str, data: bytes) -> None:
        if "/.versions/" in path:  # the files are in place (one rename), the record write fails
            raise StorageError(".versions/p/v2.json: no space left on device")
        real(path, data)

    monkeypatch.setattr(store, "_write_path_atomic", full_at_records)
    with pytest.raises(StorageError, match="no space left on device"):
        store.publish("p", {"a": b"new"})
    monkeypatch.undo()
    assert store.list("p") == ["p/LATEST", "p/v1/a"] and store.versions("p") == [1]
    assert leftovers(store) == [] and audit_published(store, uncommitted="check") == []


def test_client_transport_errors_are_retried_then_named():
    from rovercam.storage.retry import call_with_retry

    class ConnectionClosedError(Exception):  # botocore's, by name: not an OSError
        pass

    calls = []

    def flaky() -> bytes:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionClosedError("Connection was closed before we received a valid response")
        return b"ok"

    assert call_with_retry(flaky, "k", RetryPolicy(retries=3, first_delay_s=0)) == b"ok" and len(calls) == 3
    calls.clear()
    with pytest.raises(StorageUnavailableError, match=r"^k: Connection was closed .* \(after 2 attempts\)$"):
        call_with_retry(lambda: flaky() and flaky() and flaky(), "k", RetryPolicy(retries=1, first_delay_s=0))
    with pytest.raises(KeyError):  # a bug is not retried and stays itself
        call_with_retry(lambda: {}["x"], "k", RetryPolicy(retries=3, first_delay_s=0))


def test_a_real_full_tmpfs_fails_the_same_way(tmp_path):
    import json
    import subprocess
    import sys

    from rovercam.testing.disk import CHILD, tmpfs_available, tmpfs_command

    if not tmpfs_available(tmp_path / "probe"):
        pytest.skip("cannot mount a tmpfs here (needs root or unprivileged user namespaces)")
    mount = tmp_path / "full"
    mount.mkdir()
    catalog_url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    cmd = tmpfs_command(mount, 5_400_000, [sys.executable, "-c", CHILD, str(mount / "store"), catalog_url])
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["published"] == 2 and report["error_type"] == "StorageError", report
    assert report["no_space"] and report["names_key"] and report["leftovers"] == [] and report["audit"] == []
    assert list(mount.iterdir()) == []  # the tmpfs went away with its namespace
