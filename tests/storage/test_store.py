"""Store: guarded keys, atomic transactions, versioned idempotent publish.

Truth: hashlib sha256 of the bytes written, the filesystem listing, and the layout documented
in rovercam/storage/store.py (``<prefix>/v<N>/<name>``, ``<prefix>/LATEST``).
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from rovercam.errors import StorageError
from rovercam.storage import PublishedVersion, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path / "root"))


@pytest.fixture
def memory_store() -> Store:
    # fsspec's memory filesystem has no rename: it exercises the object-store commit path.
    return Store(f"memory://rovercam-test-{uuid.uuid4().hex}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BAD_KEYS = [
    "/etc/passwd",
    "../outside",
    "a/../../outside",
    "a/../b",
    "./a",
    "a//b",
    "a\\b",
    "",
    "/",
    ".tmp/x",
    ".versions/x",
    "C:/x",
    "file:///etc/passwd",
    "s3://bucket/x",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused_everywhere(store: Store, key: str) -> None:
    for call in (store.exists, store.read_bytes, store.open, store.local_path, store.url):
        with pytest.raises(StorageError):
            call(key)
    with pytest.raises(StorageError):
        with store.transaction(key):
            pass
    with pytest.raises(StorageError):
        with store.transaction("ok") as txn:
            txn.put(key, b"x")
    with pytest.raises(StorageError):
        store.publish(key, {"a": b"x"})
    with pytest.raises(StorageError):
        store.publish("ok", {key: b"x"})
    assert store.list() == []


def test_symlink_escape_is_refused(store: Store, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s")
    root = Path(store.root)
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "filelink").symlink_to(outside / "secret")
    with pytest.raises(StorageError, match="outside the store root"):
        store.read_bytes("link/secret")
    with pytest.raises(StorageError, match="outside the store root"):
        store.read_bytes("filelink")
    with pytest.raises(StorageError, match="outside the store root"):
        with store.transaction("link/new") as txn:
            txn.put("a", b"x")
    with pytest.raises(StorageError, match="outside the store root"):
        store.publish("link", {"a": b"x"})
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_transaction_commits_bytes_and_files(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 << 20))  # 3 MiB: streamed in chunks
    with store.transaction("sol00001/frames/P1") as txn:
        assert txn.put("a.txt", b"hello") == sha(b"hello")
        txn.put("sub/b.bin", src)
        assert not store.exists("sol00001/frames/P1/a.txt")  # staged, not visible yet
    assert txn.keys == {"a.txt": "sol00001/frames/P1/a.txt", "sub/b.bin": "sol00001/frames/P1/sub/b.bin"}
    assert store.read_bytes("sol00001/frames/P1/a.txt") == b"hello"
    assert sha(store.read_bytes("sol00001/frames/P1/sub/b.bin")) == sha(src.read_bytes())
    assert store.list("sol00001") == ["sol00001/frames/P1/a.txt", "sol00001/frames/P1/sub/b.bin"]
    assert os.listdir(Path(store.root) / ".tmp") == []  # staging cleaned
    with store.open("sol00001/frames/P1/a.txt") as f:
        assert f.read() == b"hello"
    assert store.local_path("sol00001/frames/P1/a.txt") == Path(store.root) / "sol00001/frames/P1/a.txt"
    assert store.url("x/y").startswith("file://") and store.url("x/y").endswith("/root/x/y")


@pytest.mark.parametrize("durable", [True, False])
def test_transaction_stores_pieces_one_after_another(store: Store, durable: bool) -> None:
    import numpy as np

    pixels = memoryview(np.arange(1000, dtype=np.float32)).cast("B")
    pieces = (b"head:", pixels, b"", b":tail")
    whole = b"head:" + bytes(pixels) + b":tail"
    with store.transaction("work/pieces", durable=durable) as txn:
        assert txn.put("blob", pieces) == (sha(whole) if durable else "")
    assert store.read_bytes("work/pieces/blob") == whole
    with pytest.raises(StorageError, match="a tuple of bytes-like pieces or a Path, got list"):
        with store.transaction("work/other") as txn:
            txn.put("blob", [b"lists are refused"])


def test_exception_mid_transaction_leaves_nothing_visible(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction("sol00001/frames/P2") as txn:
            txn.put("a.txt", b"first")
            raise RuntimeError("boom")
    assert store.list() == []
    assert not store.exists("sol00001/frames/P2/a.txt")
    assert os.listdir(Path(store.root) / ".tmp") == []


def test_checksum_mismatch_aborts(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # A filesystem that silently corrupts what it stores: the read-back check must catch it.
    real_open = store.fs.open

    class Corrupting:
        def __init__(self, f):
            self.f = f

        def write(self, data: bytes) -> int:
            return self.f.write(bytes([data[0] ^ 0xFF]) + data[1:])

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    def corrupt_open(path, mode="rb", **kw):
        f = real_open(path, mode, **kw)
        return Corrupting(f) if "w" in mode else f

    monkeypatch.setattr(store.fs, "open", corrupt_open)
    with pytest.raises(StorageError, match="sha256"):
        with store.transaction("p") as txn:
            txn.put("a", b"payload")
    monkeypatch.undo()
    assert store.list() == []


def test_non_durable_transaction_is_still_atomic_and_skips_fsync(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Work-area results: no fsync and no read-back, but all-or-nothing visibility stays.
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    with store.transaction("work/a", durable=False) as txn:
        txn.put("f.npz", b"frame")
    assert store.read_bytes("work/a/f.npz") == b"frame" and calls == []
    with pytest.raises(RuntimeError, match="boom"):
        with store.transaction("work/b", durable=False) as txn:
            txn.put("f.npz", b"frame")
            raise RuntimeError("boom")
    assert not store.exists("work/b/f.npz")
    with store.transaction("pub/c") as txn:  # the default stays durable
        txn.put("f", b"x")
    assert calls


def test_open_is_read_only_and_missing_keys_raise(store: Store) -> None:
    with pytest.raises(StorageError, match="read-only"):
        store.open("a", mode="wb")  # type: ignore[arg-type]
    with pytest.raises(StorageError, match="no object"):
        store.read_bytes("missing")
    assert not store.exists("missing")
    assert store.list("missing") == []


def test_put_twice_in_one_transaction_is_refused(store: Store) -> None:
    with pytest.raises(StorageError, match="twice"):
        with store.transaction("p") as txn:
            txn.put("a", b"1")
            txn.put("a", b"2")
    assert store.list() == []


def test_transaction_into_existing_prefix_replaces_files(store: Store) -> None:
    with store.transaction("p") as txn:
        txn.put("a", b"1")
        txn.put("b", b"1")
    with store.transaction("p") as txn:
        txn.put("a", b"2")
    assert store.read_bytes("p/a") == b"2" and store.read_bytes("p/b") == b"1"


@pytest.mark.parametrize("which", ["local", "memory"])
def test_publish_versions_and_idempotence(which: str, store: Store, memory_store: Store) -> None:
    st = store if which == "local" else memory_store
    files = {"m.tif": b"cog-1", "m.png": b"png-1"}
    v1 = st.publish("sol00100/mosaics/M", files)
    assert isinstance(v1, PublishedVersion)
    assert (v1.version, v1.reused) == (1, False)
    assert v1.keys == {"m.tif": "sol00100/mosaics/M/v1/m.tif", "m.png": "sol00100/mosaics/M/v1/m.png"}
    assert v1.sha256 == {n: sha(b) for n, b in files.items()}

    again = st.publish("sol00100/mosaics/M", dict(files))
    assert (again.version, again.reused, again.sha256) == (1, True, v1.sha256)

    v2 = st.publish("sol00100/mosaics/M", {"m.tif": b"cog-2", "m.png": b"png-1"})
    assert (v2.version, v2.reused) == (2, False)
    assert st.read_bytes("sol00100/mosaics/M/v1/m.tif") == b"cog-1"  # old version kept
    assert st.read_bytes("sol00100/mosaics/M/v2/m.tif") == b"cog-2"
    pointer = json.loads(st.read_bytes("sol00100/mosaics/M/LATEST"))
    assert pointer == {"version": 2, "files": v2.sha256}
    assert st.latest("sol00100/mosaics/M") == PublishedVersion(
        "sol00100/mosaics/M", 2, v2.keys, v2.sha256, reused=False
    )
    # A different file set (a name dropped) is a new version too.
    assert st.publish("sol00100/mosaics/M", {"m.tif": b"cog-2"}).version == 3
    assert st.versions("sol00100/mosaics/M") == [1, 2, 3]
    assert all(".tmp" not in k for k in st.list())


@pytest.mark.parametrize("which", ["local", "memory"])
def test_identical_content_is_not_reused_when_a_file_of_the_version_is_gone(
        which: str, store: Store, memory_store: Store, caplog: pytest.LogCaptureFixture) -> None:
    st = store if which == "local" else memory_store
    files = {"m.tif": b"cog-1", "m.png": b"png-1"}
    assert st.publish("sol00100/mosaics/M", files).version == 1
    st.fs.rm(st._path("sol00100/mosaics/M/v1/m.png"))  # deleted behind the store's back
    with caplog.at_level("WARNING", logger="rovercam"):
        again = st.publish("sol00100/mosaics/M", dict(files))
    assert (again.version, again.reused) == (2, False)
    assert st.read_bytes(again.keys["m.png"]) == b"png-1"
    assert "v1 is identical but lacks sol00100/mosaics/M/v1/m.png" in caplog.text
    assert st.publish("sol00100/mosaics/M", dict(files)).reused  # complete again: reused


def test_publish_render_sees_version_and_counts_for_reuse(store: Store) -> None:
    calls: list[int] = []

    def render(version: int) -> dict[str, bytes]:
        calls.append(version)
        return {"item.json": f'{{"id": "x-v{version}"}}'.encode()}

    v1 = store.publish("p", {"a": b"1"}, render=render)
    assert store.read_bytes(v1.keys["item.json"]) == b'{"id": "x-v1"}'
    v1b = store.publish("p", {"a": b"1"}, render=render)
    assert v1b.reused and v1b.version == 1
    assert calls == [1, 1]  # rendered for the new v1, then for the reuse check against v1
    with pytest.raises(StorageError, match="clashes"):
        store.publish("q", {"a": b"1"}, render=lambda v: {"a": b"2"})


def test_orphan_version_from_killed_publisher_is_skipped(store: Store) -> None:
    store.publish("p", {"a": b"1"})
    # A publisher killed after committing v2's folder but before writing LATEST.
    orphan = Path(store.root) / "p" / "v2"
    orphan.mkdir()
    (orphan / "a").write_bytes(b"half")
    assert store.latest("p").version == 1  # readers still see v1
    assert store.publish("p", {"a": b"1"}).reused  # identical to LATEST: nothing to do
    v = store.publish("p", {"a": b"2"})
    assert v.version == 3 and store.read_bytes("p/v2/a") == b"half"


def test_committed_version_whose_publisher_died_before_latest_is_taken_over(store: Store) -> None:
    v1 = store.publish("p", {"a": b"1"})
    # v2 committed (record written, every file in place), then the publisher was killed before
    # it pointed LATEST at v2: no reader and no catalog row names v2.
    store.publish("p", {"a": b"2"})
    store.fs.pipe_file(f"{store.root}/p/LATEST", json.dumps({"version": 1, "files": v1.sha256}).encode())
    again = store.publish("p", {"a": b"2"})  # the rerun publishes the same bytes
    assert again.reused and again.version == 2
    assert store.latest("p").version == 2 and store.versions("p") == [1, 2]
    # different bytes still make a new version
    assert store.publish("p", {"a": b"3"}).version == 3


def test_failure_during_publish_keeps_previous_version(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from rovercam.storage.store import Transaction

    store.publish("p", {"a": b"1", "b": b"1"})
    real_put = Transaction.put

    def failing_put(self, name, data):
        if name == "b":
            raise OSError("disk full")
        return real_put(self, name, data)

    monkeypatch.setattr(Transaction, "put", failing_put)
    with pytest.raises(OSError, match="disk full"):
        store.publish("p", {"a": b"2", "b": b"2"})
    monkeypatch.undo()
    assert store.list() == ["p/LATEST", "p/v1/a", "p/v1/b"]
    assert store.latest("p").version == 1
    assert store.publish("p", {"a": b"2", "b": b"2"}).version == 2


def test_publish_refuses_empty_and_reserved_names(store: Store) -> None:
    with pytest.raises(StorageError, match="nothing"):
        store.publish("p", {})
    with pytest.raises(StorageError, match="reserved"):
        store.publish("p", {"LATEST": b"x"})
    with pytest.raises(StorageError, match="must be bytes, a tuple of bytes-like pieces or a Path"):
        with store.transaction("p") as txn:
            txn.put("a", "text")  # type: ignore[arg-type]


def test_memory_store_is_not_local(memory_store: Store) -> None:
    with memory_store.transaction("p") as txn:
        txn.put("a", b"1")
    assert memory_store.local_path("p/a") is None
    assert memory_store.url("p/a").startswith("memory://")
    assert memory_store.list() == ["p/a"]


def test_discard_stale_staging_removes_only_old_leftovers(store: Store) -> None:
    tmp = Path(store.root) / ".tmp"
    (tmp / "killed").mkdir(parents=True)
    (tmp / "killed" / "half.tif").write_bytes(b"partial")
    os.utime(tmp / "killed", (0, 0))  # a writer killed long ago (epoch)
    (tmp / "running").mkdir()  # a transaction in progress right now
    assert store.discard_stale_staging(older_than_s=3600) == ["killed"]
    assert sorted(os.listdir(tmp)) == ["running"]


def test_exclusive_transaction_never_overwrites(store: Store) -> None:
    with store.transaction("p/v1", exclusive=True) as txn:
        txn.put("a", b"1")
    with pytest.raises(StorageError, match="refusing to overwrite"):
        with store.transaction("p/v1", exclusive=True) as txn:
            txn.put("a", b"2")
    # A concurrent writer that commits first (between our check and our rename) wins; we fail.
    with pytest.raises(StorageError, match="commit failed"):
        with store.transaction("q/v1", exclusive=True) as txn:
            txn.put("a", b"mine")
            (Path(store.root) / "q" / "v1").mkdir(parents=True)
            (Path(store.root) / "q" / "v1" / "a").write_bytes(b"theirs")
    assert store.read_bytes("p/v1/a") == b"1" and store.read_bytes("q/v1/a") == b"theirs"
    assert os.listdir(Path(store.root) / ".tmp") == []


def test_version_claims_make_concurrent_publishers_take_distinct_versions(store: Store) -> None:
    assert store._claim("p", 1) and not store._claim("p", 1)  # create-only (O_EXCL)
    # A publisher that listed before the claim still cannot take v1: it claims v2.
    v = store.publish("p", {"a": b"mine"})
    assert v.version == 2 and not (Path(store.root) / "p" / "v1").exists()
    assert store.versions("p") == [1, 2]  # v1 stays retired (claimed by a killed publisher)
    assert store.committed_versions("p") == {2: {"a": sha(b"mine")}}
    assert store.published_prefixes() == ["p"]
    assert store.list() == ["p/LATEST", "p/v2/a"]  # version records are not listed


def test_latest_never_moves_back_to_a_lower_version(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.publish("p", {"a": b"1"})
    real_claim = Store._claim

    def slow_claim(self, prefix, version):  # a faster publisher commits v3 while we write v2
        ok = real_claim(self, prefix, version)
        if version == 2:
            monkeypatch.setattr(Store, "_claim", real_claim)
            assert self.publish("p", {"a": b"3"}).version == 3
        return ok

    monkeypatch.setattr(Store, "_claim", slow_claim)
    assert store.publish("p", {"a": b"2"}).version == 2
    assert store.latest("p").version == 3
    assert sorted(store.committed_versions("p")) == [1, 2, 3]
