"""Ingest: discovery and pairing, deduplication, quarantine, untouched inputs, fsspec prefixes."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import fsspec
import numpy as np
import pytest

from rovercam import ingest
from rovercam.catalog import Catalog
from rovercam.config import load
from rovercam.errors import ProductError
from rovercam.products import Limits, Product, ProductMeta, write_pds3
from rovercam.storage import Store


def _product(pid: str, value: int = 7) -> Product:
    return Product(ProductMeta(product_id=pid, mission="M2020", instrument="NAVCAM_LEFT", sol=100),
                   image=np.full((4, 6), value, np.uint8))


PID_A = "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01"
PID_B = "NLF_0100_0675828790_000ECM_N0040218NCAM00503_02_295J01"


def _snapshot(folder: Path) -> dict[str, tuple[str, float]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def settings(tmp_path):
    return load(None, overrides={"storage": {"root": str(tmp_path / "store")}})


def test_discover_pairs_labels_and_data(tmp_path):
    names = ["A.LBL", "a.img", "x.img.lbl", "x.img", "P.xml", "P.IMG", "S.png",
             "S-metadata.json", "T-metadata.json", "lonely.IMG", "browse.JPG", "notes.txt",
             ".hidden.IMG", "V.vic"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "B.IMG").write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in ingest.discover(tmp_path)]
    assert found == sorted(["A.LBL", "x.img.lbl", "P.xml", "S.png", "T-metadata.json",
                            "lonely.IMG", "V.vic", "sub/B.IMG"])


def test_discover_refuses_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        ingest.discover(tmp_path / "nope")


def test_ingest_paths_dedups_quarantines_and_never_touches_inputs(tmp_path, settings):
    src = tmp_path / "in"
    src.mkdir()
    write_pds3(src / "A.IMG", _product(PID_A))
    shutil.copy(src / "A.IMG", src / "A_COPY.IMG")  # same content, second name
    write_pds3(src / "B.IMG", _product(PID_B, 9))
    (src / "BAD.IMG").write_bytes(b"ODL_VERSION_ID = ODL3\r\nLINES = (\r\n")
    before = _snapshot(src)
    seen: list[tuple[int, int]] = []
    results = ingest.ingest_paths([src], settings=settings,
                                  progress=lambda d, t, m: seen.append((d, t)), sol_hint=100)
    states = {Path(r.path).name: r.state for r in results}
    assert states == {"A.IMG": "ingested", "A_COPY.IMG": "duplicate", "B.IMG": "ingested",
                      "BAD.IMG": "quarantined"}
    dup = next(r for r in results if r.state == "duplicate")
    assert dup.duplicate_of == str(src / "A.IMG") and dup.sha256 == results[0].sha256
    assert seen[-1] == (4, 4)
    assert _snapshot(src) == before  # inputs neither moved nor modified
    with Catalog(settings.catalog_url) as cat:
        assert {p.product_id for p in cat.products(state="ingested")} == {PID_A, PID_B}
        report = ingest.quarantine_report(cat, sol=100)
    assert len(report) == 1 and report[0]["path"] == str(src / "BAD.IMG")
    assert "BAD.IMG" in report[0]["reason"] and report[0]["sol"] == 100
    bad = next(r for r in results if r.state == "quarantined")
    store = Store(settings.storage_root)
    assert store.read_bytes(f"{bad.quarantine_key}/BAD.IMG") == (src / "BAD.IMG").read_bytes()
    # a re-run is idempotent: same states, nothing new in the catalog
    again = ingest.ingest_paths([src], settings=settings, sol_hint=100)
    assert [r.state for r in again] == [r.state for r in results]
    with Catalog(settings.catalog_url) as cat:
        assert len(cat.products()) == 3


def test_ingest_one_keeps_its_signature_and_flags_renamed_content(tmp_path, settings):
    src = tmp_path / "in"
    src.mkdir()
    write_pds3(src / "A.IMG", _product(PID_A))
    store, catalog = Store(settings.storage_root), Catalog(settings.catalog_url)
    r = ingest.ingest_one(src / "A.IMG", limits=Limits(), store=store, catalog=catalog,
                          sol_hint=100)
    assert r.ok and r.product_id == PID_A and r.sol == 100
    shutil.copy(src / "A.IMG", src / "A2.IMG")
    r2 = ingest.ingest_one(str(src / "A2.IMG"), limits=Limits(), store=store, catalog=catalog)
    assert r2.state == "duplicate" and r2.duplicate_of == str(src / "A.IMG") and not r2.ok
    with pytest.raises(ProductError):
        ingest.ingest_one(src / "missing.IMG", limits=Limits(), store=store, catalog=catalog)
    catalog.close()


def test_quarantined_product_is_filed_under_its_label_sol(tmp_path, settings):
    src = tmp_path / "in"
    src.mkdir()
    write_pds3(src / "A.IMG", _product(PID_A))
    data = (src / "A.IMG").read_bytes()
    (src / "A.IMG").write_bytes(data[:-5])  # truncated: the label reads, the pixels do not
    (r,) = ingest.ingest_paths([src / "A.IMG"], settings=settings)
    assert r.state == "quarantined" and r.sol == 100 and "sol00100" in r.quarantine_key


def test_ingest_from_an_fsspec_prefix(tmp_path, settings):
    # memory:// stands in for s3://: the same code path (list, copy beside, read, record)
    local = tmp_path / "src"
    local.mkdir()
    write_pds3(local / "A.LBL", _product(PID_A), detached=True)
    (local / "BAD.IMG").write_bytes(b"\x00garbage")
    fs = fsspec.filesystem("memory")
    prefix = f"/ingest-test-{os.getpid()}/sol100"
    for f in local.iterdir():
        fs.pipe_file(f"{prefix}/{f.name}", f.read_bytes())
    try:
        found = ingest.discover(f"memory://{prefix}")
        assert [u.rsplit("/", 1)[1] for u in found] == ["A.LBL", "BAD.IMG"]
        results = ingest.ingest_paths([f"memory://{prefix}"], settings=settings, sol_hint=100)
        assert [r.state for r in results] == ["ingested", "quarantined"]
        assert results[0].product_id == PID_A and results[0].path == found[0]
        assert results[1].reason.startswith(f"memory://{prefix}/BAD.IMG")
        assert fs.cat_file(f"{prefix}/A.IMG") == (local / "A.IMG").read_bytes()  # untouched
    finally:
        fs.rm(prefix.rsplit("/", 1)[0], recursive=True)


@pytest.mark.realdata
def test_ingest_every_real_product(realdata, tmp_path, settings):
    src = tmp_path / "in"
    shutil.copytree(realdata, src, ignore=shutil.ignore_patterns("*.md", "luts"))
    results = ingest.ingest_paths([src], settings=settings)
    states = {Path(r.path).name: r.state for r in results}
    # the PDS4 label's .IMG is absent (MANIFEST.md): quarantined with that reason, the rest in
    assert states.pop("NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml") \
        == "quarantined"
    assert set(states.values()) == {"ingested"} and len(states) == 4
