"""Mosaics: grouping, projections and surfaces, pointing refinement, gain compensation, seams and
multiband blending, tiled out-of-core rendering, index maps, stereo anaglyphs.

>>> from rovercam.mosaic import EquirectangularProjection, FrameStack, render_mosaic
>>> EquirectangularProjection.full_sphere(8000).height
4000
"""
from rovercam.mosaic.anaglyph import Anaglyph, make_anaglyph
from rovercam.mosaic.build import build_cylindrical_mosaic, build_mosaic
from rovercam.mosaic.cylindrical import (
    FrameGeometry,
    frame_geometry,
    plan_cylindrical,
    render_cylindrical,
)
from rovercam.mosaic.gains import GainSolution, estimate_gains, overlapping_pairs
from rovercam.mosaic.grouping import group_key, group_records, mosaic_name, split_by_bands
from rovercam.mosaic.model import Mosaic, dumps_mosaic, loads_mosaic
from rovercam.mosaic.plan import plan_projection
from rovercam.mosaic.projections import (
    CylindricalProjection,
    EquirectangularProjection,
    PerspectiveProjection,
    PolarProjection,
    Projection,
    VerticalProjection,
    projection_from_tags,
)
from rovercam.mosaic.refine import Refinement, refine_pointing
from rovercam.mosaic.render import GeoTiffRender, RenderOptions, render_geotiff, render_mosaic
from rovercam.mosaic.stack import FrameStack
from rovercam.mosaic.surfaces import Surface

__all__ = [
    "Anaglyph",
    "CylindricalProjection",
    "EquirectangularProjection",
    "FrameGeometry",
    "FrameStack",
    "GainSolution",
    "GeoTiffRender",
    "Mosaic",
    "PerspectiveProjection",
    "PolarProjection",
    "Projection",
    "Refinement",
    "RenderOptions",
    "Surface",
    "VerticalProjection",
    "build_cylindrical_mosaic",
    "build_mosaic",
    "dumps_mosaic",
    "estimate_gains",
    "frame_geometry",
    "group_key",
    "group_records",
    "loads_mosaic",
    "make_anaglyph",
    "mosaic_name",
    "overlapping_pairs",
    "plan_cylindrical",
    "plan_projection",
    "projection_from_tags",
    "refine_pointing",
    "render_cylindrical",
    "render_geotiff",
    "render_mosaic",
    "split_by_bands",
]
