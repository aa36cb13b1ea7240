"""Mosaics: grouping frames, projections, blending.

>>> from rovercam.mosaic import plan_cylindrical, render_cylindrical
"""
from rovercam.mosaic.cylindrical import (
    FrameGeometry,
    frame_geometry,
    plan_cylindrical,
    render_cylindrical,
)
from rovercam.mosaic.grouping import group_key, group_records, mosaic_name
from rovercam.mosaic.model import CylindricalProjection, Mosaic

__all__ = [
    "CylindricalProjection",
    "FrameGeometry",
    "Mosaic",
    "frame_geometry",
    "group_key",
    "group_records",
    "mosaic_name",
    "plan_cylindrical",
    "render_cylindrical",
]
