"""Types of the flows' parameters: choices, ranges and descriptions the Prefect UI shows.

Prefect builds each flow's parameter schema from its signature (pydantic), so a ``Literal`` shows as
a drop-down of choices, a ``Field(ge=..., le=...)`` as a bounded number, and ``description`` under
the field. A wrong value (a misspelt stage, a negative sol) is refused when the run starts, before
any work, by Prefect's parameter validation, with a message that names the field and the choices.
"""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from rovercam.config import MosaicSettings
from rovercam.layout import MAX_SOL
from rovercam.sources import MAX_LATEST_SOLS
from rovercam.pipeline.stages import StageChoice

__all__ = ["described", "Sol", "SolOrLatest", "Sols", "Cameras", "Stages", "Projection", "Source", "InputDir", "Latest", "Force",
           "ConfigFile", "Overrides", "MAX_SOL"]

def described(text: str, **constraints: Any) -> Any:
    """``pydantic.Field(description=text, **constraints)``, with the description also in the JSON
    schema's extra keys: Prefect's parameter model gives every field the description of a
    Google-style docstring (None here), which replaces the one in ``Annotated``; the extra keys
    are merged, so the UI shows ``text``."""
    return Field(description=text, json_schema_extra={"description": text}, **constraints)


Sol = Annotated[int, described(f"Mission sol (Mars solar day since landing; the landing sol is 0), 0 to {MAX_SOL}.",
                               ge=0, le=MAX_SOL)]
SolOrLatest = Annotated[Annotated[int, Field(ge=0, le=MAX_SOL)] | None, described(
    f"Mission sol to process, 0 to {MAX_SOL}; null: the source's latest sols (see latest).")]
Sols = Annotated[list[Annotated[int, Field(ge=0, le=MAX_SOL)]] | None, described(
    "Sols to report on (0 or more each); empty or null: every sol in the catalog.")]
Camera = Annotated[str, described("An INSTRUMENT_ID (NAVCAM_LEFT, MCZ_RIGHT) or a prefix (NAVCAM).",
                                  min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_]+$")]
Cameras = Annotated[list[Camera] | None, described(
    "Cameras to process, by INSTRUMENT_ID or prefix (NAVCAM matches NAVCAM_LEFT and NAVCAM_RIGHT); "
    "empty or null: every camera of the sol.")]
Stages = Annotated[list[StageChoice] | None, described(
    "Stages to recompute: the earliest one named and every stage after it (a chain stage, such as "
    "debayer, means calibrate). Empty or null: recompute only what changed.")]
#: Mosaic projections, as ``[mosaic] projection`` accepts them.
ProjectionName: Any = MosaicSettings.model_fields["projection"].annotation
Projection = Annotated[ProjectionName | None, described(
    "Mosaic projection, overriding [mosaic] projection for this run; null: as configured.")]
Source = Annotated[str, described(
    "Where products come from: a local folder, an object-store prefix (s3://bucket/prefix), or an HTTP "
    "archive laid out like a PDS volume or a raw-image feed.", min_length=1)]
InputDir = Annotated[str, described("Folder holding the sol's EDL product files.", min_length=1)]
Latest = Annotated[int, described(f"When sol is null: how many of the source's latest sols to process "
                                  f"(1 to {MAX_LATEST_SOLS}).", ge=1, le=MAX_LATEST_SOLS)]
Force = Annotated[bool, described("Recompute everything, even what is unchanged and stored.")]
ConfigFile = Annotated[str | None, described(
    "A pipeline.toml to load over the defaults; null: the defaults and ROVERCAM_* environment variables.")]
Overrides = Annotated[dict[str, Any] | None, described(
    'Settings over the configuration, by section: {"storage": {"root": "/data"}, '
    '"mosaic": {"projection": "polar"}}.')]
