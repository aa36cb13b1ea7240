"""``rovercam catalog verify``: catalog rows against stored files, and stored versions against rows.

Truth: what was published (sample mosaics through the one publish path) and the damage each test
does by hand: a corrupted byte, a deleted file, a version published behind the catalog's back, a
deleted row, a changed staged product. Each is found, and a clean root verifies clean.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from rovercam.catalog import Catalog
from rovercam.cli import main
from rovercam.ingest import ingest_one
from rovercam.products import Limits
from rovercam.publish import publish_mosaic, verify_catalog
from rovercam.storage import Store
from rovercam.testing import sample_mosaic


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A storage root with two published mosaics (one in two versions) and one staged product."""
    root = tmp_path / "root"
    store = Store(str(root))
    with Catalog(root / "catalog.sqlite") as cat:
        run_id = cat.start_run("process-sol", sol=100, software_version="0.1.0", config_hash="c" * 64)
        for m in (sample_mosaic(0, width=120, height=60), sample_mosaic(1, width=120, height=60),
                  sample_mosaic(2, instrument="NAVCAM_RIGHT", width=120, height=60)):
            publish_mosaic(m, store=store, catalog=cat, run_id=run_id)
        staged = root / "incoming" / "sol00100" / "NLF_0100.IMG"
        staged.parent.mkdir(parents=True)
        staged.write_bytes(b"a product's bytes")
        cat.record_product("NLF_0100", hashlib.sha256(staged.read_bytes()).hexdigest(), sol=100,
                           instrument="NAVCAM_LEFT", path=str(staged))
    return root


def _verify(root: Path):
    with Catalog(root / "catalog.sqlite", create=False) as cat:
        return verify_catalog(Store(str(root)), cat)


def _mosaic_files(root: Path, version: int = 1) -> list[Path]:
    return sorted((root / "sol00100" / "mosaics").glob(f"NAVCAM_LEFT*/v{version}/*"))


def test_a_clean_root_verifies_clean(root, capsys):
    result = _verify(root)
    assert result.ok and result.problems == []
    assert (result.outputs, result.products) == (3, 1)
    assert result.files == 3 * 4  # COG, preview, thumbnail, STAC item per version
    assert main(["catalog", "--out", str(root), "verify"]) == 0
    assert "catalog and storage agree: 3 outputs, 12 files" in capsys.readouterr().out
    assert main(["catalog", "--out", str(root), "verify", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["problems"] == [] and doc["outputs"] == 3


def test_a_corrupted_file_is_found(root, capsys):
    cog = next(p for p in _mosaic_files(root) if p.suffix == ".tif")
    data = bytearray(cog.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cog.write_bytes(bytes(data))
    problems = _verify(root).problems
    assert any("sha256 differs" in p.problem and p.where.endswith("/v1") for p in problems), problems
    assert main(["catalog", "--out", str(root), "verify", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_a_deleted_file_is_found(root):
    png = next(p for p in _mosaic_files(root, 2) if p.name.endswith("_preview.png"))
    png.unlink()
    problems = _verify(root).problems
    assert any(p.where.startswith("catalog M2020-sol00100-NAVCAM_LEFT") and "missing" in p.problem
               for p in problems), problems


def test_a_version_published_without_a_row_is_found(root):
    Store(str(root)).publish("sol00100/mosaics/UNRECORDED", {"x.tif": b"bytes no catalog knows"})
    problems = _verify(root).problems
    assert [p.where for p in problems] == ["sol00100/mosaics/UNRECORDED/v1"], problems
    assert "no catalog row" in problems[0].problem


def test_a_deleted_row_is_found(root, capsys):
    with sqlite3.connect(root / "catalog.sqlite") as db:
        db.execute("DELETE FROM lineage WHERE output_id LIKE '%RIGHT%'")
        db.execute("DELETE FROM outputs WHERE output_id LIKE '%RIGHT%'")
    problems = _verify(root).problems
    assert len(problems) == 1 and "NAVCAM_RIGHT" in problems[0].where and "no catalog row" in problems[0].problem
    assert main(["catalog", "--out", str(root), "verify"]) == 1
    assert "catalog verify: 1 problem(s)" in capsys.readouterr().out


def test_a_missing_stac_item_and_a_hostile_key_are_found(root):
    with sqlite3.connect(root / "catalog.sqlite") as db:
        row_id, keys = db.execute("SELECT output_id, storage_keys FROM outputs WHERE output_id LIKE '%RIGHT%'").fetchone()
        keys = json.loads(keys)
        keys["evil.txt"] = "../../../etc/passwd"
        db.execute("UPDATE outputs SET stac_key = NULL, storage_keys = ? WHERE output_id = ?",
                   (json.dumps(keys), row_id))
    problems = _verify(root).problems
    assert any(p.problem == "no STAC item recorded" for p in problems), problems
    assert any("etc/passwd" in p.problem for p in problems), problems  # reported, never read


def test_a_changed_or_missing_staged_product_is_found(root):
    staged = root / "incoming" / "sol00100" / "NLF_0100.IMG"
    staged.write_bytes(b"other bytes")
    assert [p.where for p in _verify(root).problems] == [str(staged)]
    staged.unlink()
    assert "missing" in _verify(root).problems[0].problem
    with Catalog(root / "catalog.sqlite", create=False) as cat:
        assert verify_catalog(Store(str(root)), cat, products=False).ok


def test_a_quarantined_product_needs_its_copy(root, tmp_path):
    bad = tmp_path / "NLF_0100_0000000000_000EDR_N0000000NCAM00000_00_0000J01.IMG"
    bad.write_bytes(b"not a product")
    with Catalog(root / "catalog.sqlite", create=False) as cat:
        result = ingest_one(str(bad), limits=Limits(), store=Store(str(root)), catalog=cat, sol_hint=100)
    assert result.state == "quarantined" and _verify(root).ok
    for f in (root / result.quarantine_key).iterdir():
        f.unlink()
    assert any("holds no copy" in p.problem for p in _verify(root).problems)
