"""rovercam.testing.plain_sol: a generated sol through plain calls publishes what the flow would."""
from __future__ import annotations

from rovercam import ingest
from rovercam.catalog import Catalog
from rovercam.config import load
from rovercam.publish import audit_published
from rovercam.storage import Store
from rovercam.synth import generate_sol
from rovercam.testing.plain import plain_sol


def test_a_tiny_sol_is_ingested_calibrated_and_published(tmp_path):
    sol = 12
    generate_sol(tmp_path / "drop", sol=sol, profile="tiny", seed=4, settings=load(environ={}))
    settings = load(environ={}, overrides={
        "storage": {"root": str(tmp_path / "store")},
        "calibration": {"search_path": [str(tmp_path / "drop" / "calibration")]}})
    store, calls = Store.from_settings(settings), []
    with Catalog(settings.catalog_url) as catalog:
        published = plain_sol(ingest.discover(tmp_path / "drop" / "raw"), sol, settings, store=store,
                              catalog=catalog, before_publish=lambda: calls.append(len(catalog.outputs())))
        outputs = catalog.outputs(sol=sol)
        assert calls == [0]  # called once, before anything was published
        assert published >= 1 and len(outputs) == published
        assert {o.kind for o in outputs} == {"mosaic"}
        assert audit_published(store, catalog) == []
        states = {p.state for p in catalog.products(sol=sol)}
        assert "ingested" in states
