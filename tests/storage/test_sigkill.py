"""Publishing killed with SIGKILL at random moments leaves nothing partial; a re-run completes.

Truth: the store's commit records and LATEST pointers against sha256 of the stored bytes, each
STAC item's asset checksums, and the catalog rows against both
(:func:`rovercam.publish.audit_published`, whose own detections are tested below).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rovercam.catalog import Catalog
from rovercam.publish import audit_published, publish_mosaic
from rovercam.storage import Store
from rovercam.testing import run_kill_trials, sample_mosaic


@pytest.mark.parametrize("trials", [5, pytest.param(20, marks=pytest.mark.slow)])
def test_sigkill_at_random_points_never_leaves_a_partial_product(tmp_path: Path, trials: int) -> None:
    report = run_kill_trials(tmp_path / "store", trials=trials, seed=trials)
    assert report.problems == []
    assert (report.trials, report.partial_visible, report.rerun_ok) == (trials, 0, trials)
    # The kill window is 1.2 x the publish time: about 5 in 6 kills land mid-publish.
    assert report.killed >= trials // 3, report


@pytest.fixture
def published(tmp_path: Path):
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "c.db") as catalog:
        out = publish_mosaic(sample_mosaic(0, width=200, height=90), store=store, catalog=catalog)
        assert audit_published(store, catalog, uncommitted="check") == []
        yield store, catalog, out


def test_audit_finds_a_damaged_committed_file(published) -> None:
    store, catalog, out = published
    out.png_path.write_bytes(b"truncated")
    found = audit_published(store, catalog)
    assert any("do not match the commit record" in p for p in found)
    assert any("differs from the STAC item" in p for p in found)


def test_audit_finds_a_missing_file_and_the_catalog_row_naming_it(published) -> None:
    store, catalog, out = published
    out.thumbnail_path.unlink()
    found = audit_published(store, catalog)
    assert any("commit record" in p for p in found)
    assert any(p.startswith(f"catalog {out.output_id}") and "missing" in p for p in found)


def test_audit_finds_a_catalog_row_of_an_uncommitted_version(published) -> None:
    store, catalog, out = published
    catalog.record_output(name="X", kind="mosaic", sol=100, version=7,
                          storage_keys={"X.tif": f"{out.published.prefix}/v7/X.tif"}, lineage={})
    assert any("v7 is not committed" in p for p in audit_published(store, catalog))


def test_audit_checks_uncommitted_local_folders_by_their_stac_item(published) -> None:
    store, catalog, out = published
    # A half-copied folder (what a non-atomic writer would leave) with no commit record.
    v9 = Path(store.root) / out.published.prefix / "v9"
    v9.mkdir()
    item = json.loads(out.stac_path.read_bytes())
    item["id"] = item["id"].replace("-v1", "-v9")
    (v9 / out.stac_path.name).write_text(json.dumps(item))
    assert audit_published(store, catalog) == []  # not visible through the store
    assert any("item assets" in p for p in audit_published(store, catalog, uncommitted="check"))


def test_staging_of_a_killed_process_is_removed_by_the_next_publish(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)  # a process that has exited: its pid is free
    import socket

    name = f"{'0' * 32}-{pid}@{socket.gethostname()}"
    (Path(store.root) / ".tmp" / name).mkdir(parents=True)
    (Path(store.root) / ".tmp" / name / "half.tif").write_bytes(b"partial")
    alive = f"{'1' * 32}-{os.getpid()}@{socket.gethostname()}"
    (Path(store.root) / ".tmp" / alive).mkdir()
    store.publish("p", {"a": b"1"})
    assert os.listdir(Path(store.root) / ".tmp") == [alive]  # only the live owner's staging
