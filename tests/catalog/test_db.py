"""Catalog database on SQLite: idempotent recording, runs, outputs with lineage, persistence.

Truth: what was recorded (round trips through the database) and the uniqueness rules of
rovercam/catalog/schema.py.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import inspect

from rovercam.catalog import Catalog
from rovercam.catalog.schema import Base
from rovercam.errors import CatalogError

SHA_A = "a" * 64
SHA_B = "b" * 64
UTC = dt.timezone.utc


@pytest.fixture
def cat(tmp_path: Path) -> Catalog:
    with Catalog(f"sqlite:///{tmp_path / 'catalog.db'}") as c:
        yield c


def test_schema_has_the_five_tables(cat: Catalog) -> None:
    names = set(inspect(cat.engine).get_table_names())
    assert {"products", "runs", "outputs", "lineage", "sol_leases"} <= names
    assert set(Base.metadata.tables) == {"products", "runs", "outputs", "lineage", "sol_leases"}


def test_record_product_is_idempotent_per_id_and_sha(cat: Catalog) -> None:
    t0 = dt.datetime(2021, 5, 1, 12, 0, tzinfo=UTC)
    cat.record_product("NLF_0100_A", SHA_A, sol=100, instrument="NAVCAM_LEFT", product_type="EDR",
                       path="/in/NLF_0100_A.IMG", sclk=673000000.5, start_time=t0)
    cat.record_product("NLF_0100_A", SHA_A, sol=100, state="processed")
    [p] = cat.products()
    assert (p.product_id, p.sha256, p.state, p.reason) == ("NLF_0100_A", SHA_A, "processed", None)
    assert p.instrument == "NAVCAM_LEFT" and p.path == "/in/NLF_0100_A.IMG"  # kept on update
    assert p.sclk == 673000000.5
    assert p.start_time == t0 and p.recorded_at.tzinfo is not None
    # A new file content under the same id is a new row (re-delivered product).
    cat.record_product("NLF_0100_A", SHA_B, sol=100)
    assert [(p.sha256, p.state) for p in cat.products(sol=100)] == [(SHA_A, "processed"), (SHA_B, "ingested")]


def test_non_utc_times_are_stored_as_utc(cat: Catalog) -> None:
    t = dt.datetime(2021, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    cat.record_product("P", SHA_A, start_time=t)
    assert cat.products()[0].start_time == dt.datetime(2021, 5, 1, 12, 0, tzinfo=UTC)


def test_quarantine_and_recovery(cat: Catalog) -> None:
    cat.record_quarantine("/drop/bad.IMG", SHA_A, "label declares 4096 lines, file has 10", sol=7)
    [q] = cat.products(state="quarantined")
    assert q.product_id == "/drop/bad.IMG" and q.path == "/drop/bad.IMG"
    assert q.reason == "label declares 4096 lines, file has 10" and q.sol == 7
    cat.record_quarantine("/drop/bad.IMG", SHA_A, "same reason again", sol=7)
    assert len(cat.products()) == 1
    # A later fixed parser ingests the same file: the reason goes away.
    cat.record_product("/drop/bad.IMG", SHA_A, state="ingested")
    [p] = cat.products()
    assert (p.state, p.reason) == ("ingested", None)
    assert cat.products(state="quarantined") == []
    with pytest.raises(ValueError):
        cat.record_quarantine("x", SHA_A, "")
    with pytest.raises(ValueError):
        cat.record_product("x", SHA_A, state="lost")  # type: ignore[arg-type]


def test_runs(cat: Catalog) -> None:
    run_id = cat.start_run("ingest-sol", sol=100, config_hash="c" * 64, software_version="0.1.0")
    r = cat.run(run_id)
    assert (r.flow, r.sol, r.status, r.finished_at) == ("ingest-sol", 100, "running", None)
    cat.finish_run(run_id, status="failed", summary={"ingested": 3, "quarantined": ["x"]})
    r = cat.run(run_id)
    assert r.status == "failed" and r.summary == {"ingested": 3, "quarantined": ["x"]}
    assert r.finished_at >= r.started_at
    with pytest.raises(CatalogError, match="no run"):
        cat.finish_run("nope")
    with pytest.raises(CatalogError):
        cat.start_run("again", run_id=run_id)  # duplicate primary key


def test_outputs_and_lineage(cat: Catalog) -> None:
    run_id = cat.start_run("mosaic", sol=100)
    inputs = {"NLF_0100_A": SHA_A, "NRF_0100_A": SHA_B}
    oid = cat.record_output(name="NCAM_CYL", kind="mosaic", sol=100, instrument="NAVCAM_LEFT",
                            version=1, storage_keys={"m.tif": "sol00100/mosaics/NCAM_CYL/v1/m.tif"},
                            stac_key="sol00100/mosaics/NCAM_CYL/v1/m.json", lineage=inputs,
                            run_id=run_id)
    assert oid == "mosaic-sol00100-NCAM_CYL-v1"
    [o] = cat.outputs(sol=100, kind="mosaic")
    assert (o.output_id, o.version, o.run_id) == (oid, 1, run_id)
    assert o.storage_keys == {"m.tif": "sol00100/mosaics/NCAM_CYL/v1/m.tif"}
    assert {(r.product_id, r.product_sha256) for r in cat.lineage(oid)} == set(inputs.items())

    # Re-recording the same output replaces its lineage rather than duplicating it.
    again = cat.record_output(name="NCAM_CYL", kind="mosaic", sol=100, version=1,
                              storage_keys=o.storage_keys, lineage={"NLF_0100_A": SHA_A},
                              output_id=oid)
    assert again == oid and len(cat.outputs()) == 1
    assert [r.product_id for r in cat.lineage(oid)] == ["NLF_0100_A"]

    cat.record_output(name="NCAM_CYL", kind="mosaic", sol=100, version=2, storage_keys={},
                      lineage=inputs)
    assert [o.version for o in cat.outputs(sol=100)] == [1, 2]
    assert cat.outputs(kind="anaglyph") == [] and cat.outputs(sol=101) == []


def test_output_with_unknown_run_is_refused_atomically(cat: Catalog) -> None:
    with pytest.raises(CatalogError, match="FOREIGN KEY"):
        cat.record_output(name="M", kind="mosaic", sol=1, version=1, storage_keys={},
                          lineage={"P": SHA_A}, run_id="no-such-run")
    assert cat.outputs() == []
    assert cat.lineage("mosaic-sol00001-M-v1") == []


def test_catalog_persists_and_accepts_a_plain_path(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cat.db"
    with Catalog(path) as c:
        c.record_product("P", SHA_A, sol=3)
    with Catalog(str(path)) as c:
        assert [p.product_id for p in c.products(sol=3)] == ["P"]


def test_unreachable_database_is_a_catalog_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(CatalogError, match="cannot open"):
        Catalog(f"sqlite:///{tmp_path / 'a-file' / 'x' / 'cat.db'}")


def test_sqlite_url_in_a_folder_not_yet_created(tmp_path):
    # a fresh storage root: the catalog must not need the folder to exist beforehand
    cat = Catalog(f"sqlite:///{tmp_path / 'new-root' / 'catalog.sqlite'}")
    cat.record_product("NLF_0100_X", "ab" * 32, sol=100, instrument="NAVCAM_LEFT")
    assert (tmp_path / "new-root" / "catalog.sqlite").is_file()
