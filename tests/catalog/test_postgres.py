"""The same pipeline run against PostgreSQL and SQLite gives the same catalog contents.

Truth: the SQLite catalog of the identical run (SQLite is the default, tested everywhere), with
only wall-clock columns (``recorded_at``, ``created_at``, run start/finish) left out.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from rovercam.catalog import Catalog
from rovercam.errors import CatalogError
from rovercam.publish import publish_mosaic
from rovercam.storage import Store
from rovercam.testing import sample_mosaic

UTC = dt.timezone.utc


def _run_pipeline(catalog: Catalog, store: Store) -> None:
    """Ingest records, a run, and publishes: new, identical (reused), changed (v2), second camera."""
    t0 = dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC)
    for i, (pid, sha) in enumerate(sample_mosaic(0).provenance.inputs.items()):
        catalog.record_product(pid, sha, sol=100, instrument="NAVCAM_LEFT", product_type="EDR",
                               path=f"/drop/{pid}.IMG", sclk=673000000.25 + i,
                               start_time=t0 + dt.timedelta(seconds=i))
    catalog.record_quarantine("/drop/broken.IMG", "e" * 64, "label declares 4096 lines, file has 10", sol=100)
    run_id = catalog.start_run("process-sol", sol=100, config_hash="c" * 64, software_version="0.1.0",
                               run_id="run-0001")
    publish_mosaic(sample_mosaic(0, width=300, height=120), store=store, catalog=catalog, run_id=run_id)
    publish_mosaic(sample_mosaic(0, width=300, height=120), store=store, catalog=catalog, run_id=run_id)
    publish_mosaic(sample_mosaic(1, width=300, height=120), store=store, catalog=catalog, run_id=run_id)
    publish_mosaic(sample_mosaic(2, instrument="NAVCAM_RIGHT", width=200, height=90), store=store,
                   catalog=catalog, run_id=run_id)
    catalog.finish_run(run_id, summary={"published": 3, "sol": 100, "names": ["a", "b"]})


def _contents(catalog: Catalog) -> dict:
    wall_clock = {"recorded_at", "created_at", "started_at", "finished_at"}

    def strip(record) -> dict:
        return {k: v for k, v in dataclasses.asdict(record).items() if k not in wall_clock}

    outputs = catalog.outputs()
    return {
        "products": [strip(p) for p in catalog.products()],
        "runs": [strip(catalog.run("run-0001"))],
        "outputs": [strip(o) for o in outputs],
        "lineage": {o.output_id: [strip(r) for r in catalog.lineage(o.output_id)] for o in outputs},
    }


def test_postgres_and_sqlite_runs_give_the_same_catalog(postgres_url: str, tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.db") as sqlite_cat, Catalog(postgres_url) as pg_cat:
        assert pg_cat.engine.dialect.name == "postgresql"
        _run_pipeline(sqlite_cat, Store(str(tmp_path / "store-sqlite")))
        _run_pipeline(pg_cat, Store(str(tmp_path / "store-pg")))
        expected, got = _contents(sqlite_cat), _contents(pg_cat)
    assert [o["version"] for o in expected["outputs"]] == [1, 2, 1]
    assert expected["outputs"][0]["start_time"].tzinfo is not None
    assert got == expected


def test_postgres_enforces_the_schema_rules(postgres_url: str) -> None:
    with Catalog(postgres_url) as cat:
        with pytest.raises(CatalogError):
            cat.record_output(name="X", kind="mosaic", sol=1, version=1, storage_keys={}, lineage={},
                              run_id="no-such-run")  # foreign key to runs
        assert cat.outputs() == []
        t = dt.datetime(2021, 5, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        cat.record_product("P", "a" * 64, start_time=t)
        assert cat.products()[0].start_time == dt.datetime(2021, 5, 1, 12, 0, tzinfo=UTC)
