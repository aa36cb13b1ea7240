"""Flow parameters as the Prefect UI sees them: choices, ranges and descriptions, and a wrong value
refused by Prefect's parameter validation before the flow body runs.

Truth: the stage names of rovercam.pipeline, the projections [mosaic] projection accepts, and the
schema Prefect builds from each flow's signature (prefect.utilities.callables.parameter_schema).
"""
from __future__ import annotations

from typing import get_args

import pytest
from prefect.utilities.callables import parameter_schema

from rovercam.config import Settings
from rovercam.pipeline import STAGE_CHOICES, StageChoice

from rovercam_flows.build_mosaics import build_mosaics
from rovercam_flows.catalog_report import catalog_report
from rovercam_flows.ingest_sol import ingest_sol
from rovercam_flows.process_edl import process_edl
from rovercam_flows.reprocess_sol import reprocess_sol

FLOWS = [ingest_sol, reprocess_sol, build_mosaics, process_edl, catalog_report]


def _properties(flow):
    return parameter_schema(flow.fn).model_dump()["properties"]


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_parameter_has_a_description(flow):
    props = _properties(flow)
    assert props and all(p.get("description") for p in props.values()), props


def _branch(prop: dict) -> dict:
    """The non-null branch of an optional parameter."""
    return next(b for b in prop.get("anyOf", [prop]) if b.get("type") != "null")


def test_stages_are_a_list_of_choices():
    assert get_args(StageChoice) == STAGE_CHOICES
    stages = _branch(_properties(reprocess_sol)["stages"])
    assert stages["type"] == "array" and tuple(stages["items"]["enum"]) == STAGE_CHOICES


def test_sol_is_a_non_negative_bounded_integer():
    for flow in (reprocess_sol, build_mosaics, process_edl, ingest_sol):
        sol = _branch(_properties(flow)["sol"])
        assert sol["type"] == "integer" and sol["minimum"] == 0 and sol["maximum"] >= 10_000, flow.name
    sols = _branch(_properties(catalog_report)["sols"])
    assert sols["items"]["minimum"] == 0


def test_projection_and_cameras_are_constrained():
    projection = _branch(_properties(build_mosaics)["projection"])
    assert set(projection["enum"]) == set(get_args(Settings.model_fields["mosaic"].annotation
                                                   .model_fields["projection"].annotation))
    cameras = _branch(_properties(reprocess_sol)["cameras"])
    assert cameras["items"]["pattern"] and cameras["items"]["description"]


@pytest.mark.parametrize("parameters, field", [
    ({"sol": 100, "stages": ["mosiac"]}, "stages"),
    ({"sol": -1}, "sol"),
    ({"sol": 100, "cameras": ["NAV CAM;"]}, "cameras"),
])
def test_validation_refuses_a_bad_value_naming_the_field(parameters, field):
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError) as info:
        reprocess_sol.validate_parameters(parameters)
    assert field in str(info.value)
    if field == "stages":
        assert "mosaic" in str(info.value) and "calibrate" in str(info.value)  # the choices


def test_validation_refuses_a_bad_projection():
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match="projection"):
        build_mosaics.validate_parameters({"sol": 1, "projection": "mercator"})
    assert build_mosaics.validate_parameters({"sol": 1, "projection": "polar"})["projection"] == "polar"
