"""Hostile flow parameters: refused before any work, by Prefect's parameter validation (what a run
from the UI or a deployment goes through) or by the flow body's first checks, with one line.

Truth: the parameter types of flows/parameters.py (rovercam.layout.MAX_SOL,
rovercam.sources.MAX_LATEST_SOLS, the stage names), the source rules of
rovercam.sources.location, and the cameras the catalog holds for the sol.
"""
from __future__ import annotations

import pytest
from prefect.exceptions import ParameterTypeError

from rovercam.catalog import Catalog
from rovercam.errors import ParameterError, SourceError

from rovercam_flows.build_mosaics import build_mosaics
from rovercam_flows.ingest_sol import ingest_sol
from rovercam_flows.process_edl import process_edl
from rovercam_flows.reprocess_sol import reprocess_sol


@pytest.mark.parametrize("flow, parameters, field", [
    (reprocess_sol, {"sol": 10**12}, "sol"),
    (reprocess_sol, {"sol": "1; DROP TABLE runs"}, "sol"),
    (reprocess_sol, {"sol": 1, "cameras": ["../x"]}, "cameras"),
    (reprocess_sol, {"sol": 1, "cameras": ["NAVCAM%"]}, "cameras"),
    (build_mosaics, {"sol": 100_000}, "sol"),
    (process_edl, {"sol": 1, "input_dir": ""}, "input_dir"),
    (ingest_sol, {"source": "/data", "sol": -1}, "sol"),
    (ingest_sol, {"source": "/data", "latest": 0}, "latest"),
    (ingest_sol, {"source": "/data", "latest": 101}, "latest"),
    (ingest_sol, {"source": ""}, "source"),
])
def test_validation_refuses_out_of_range_values(flow, parameters, field):
    with pytest.raises(ParameterTypeError) as info:
        flow.validate_parameters(parameters)
    assert field in str(info.value)


@pytest.mark.parametrize("source, reason", [
    ("file:///etc", "system folder"),
    ("/", "whole tree"),
    ("s3://KEY:SECRET@bucket/m2020", "credentials"),
    ("{root}", "storage root itself"),
    ("{root}/..", "lies inside the source"),
    ("{root}/incoming/sol00001", "incoming/"),
])
def test_ingest_sol_refuses_a_source_before_reading_it(tmp_path, source, reason):
    root = tmp_path / "root"
    with pytest.raises(SourceError, match=reason) as info:
        ingest_sol.fn(source=source.format(root=root), sol=1, overrides={"storage": {"root": str(root)}})
    assert "\n" not in str(info.value) and "SECRET" not in str(info.value)
    assert not (root / "incoming").exists()


@pytest.mark.parametrize("flow", [reprocess_sol, build_mosaics])
def test_a_camera_the_sol_does_not_have_is_refused_naming_the_ones_it_has(tmp_path, flow):
    root = tmp_path / "root"
    with Catalog(root / "catalog.sqlite") as cat:
        cat.record_product("NLF_0100_0", "ab" * 32, sol=100, instrument="NAVCAM_LEFT",
                           path=str(root / "incoming" / "NLF_0100_0.IMG"))
    with pytest.raises(ParameterError, match="sol 100 has no camera 'MCZ'; cameras: NAVCAM_LEFT"):
        flow.fn(sol=100, cameras=["MCZ"], overrides={"storage": {"root": str(root)}})
