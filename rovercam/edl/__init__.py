"""EDL imagery: descent sequences to a landing-site orthomosaic and a track; up-look and
rover-view sequences to stabilized videos, contact sheets and events.

- :mod:`.sequence`: frames of one camera in time order; black / saturated / blurred flags.
- :mod:`.registration`: SIFT + RANSAC homography between frames (tie points).
- :mod:`.ground`: the ground (a level plane or nested DEMs) and ray-ground intersection.
- :mod:`.pose`: joint refinement of label poses with the tie points.
- :mod:`.ortho`: levels whose resolution follows the data, orthorectification, mosaicking, the
  local tangent-plane CRS (Mars 2000 ellipsoid) and the descent track as GeoJSON.
- :mod:`.descent`: one down-look sequence end to end (:func:`solve_descent`).
- :mod:`.video`, :mod:`.events`: display frames, contact sheets, object-in-view / touchdown.
- :mod:`.scoring`: geometric error and PSNR of a level against a truth orthoimage.
- publishing (orthomosaics, videos, contact sheets, events) lives with the other output kinds in :mod:`rovercam.publish.edl`.

Method, CRS choice and measured figures: docs/edl.md.
"""
from rovercam.edl.descent import DescentResult, solve_descent
from rovercam.edl.events import Event, detect_events, structure_fraction, touchdown_event
from rovercam.edl.ground import DemGrid, NestedDem, Plane, intersect, load_dem
from rovercam.edl.ortho import (
    JEZERO_LAT_LON,
    MARS2000_GEOGRAPHIC,
    OrthoGrid,
    OrthoLevel,
    local_crs,
    mosaic_level,
    orthorectify,
    plan_levels,
    track_geojson,
)
from rovercam.edl.pose import PoseSolution, TieSet, refine_poses
from rovercam.edl.registration import Registration, register_pair
from rovercam.edl.scoring import GeometricScore, geometric_score, resample_truth
from rovercam.edl.sequence import DOWN_LOOKING, UP_LOOKING, EdlFrame, Quality, assess_quality, group_sequences
from rovercam.edl.video import contact_sheet, display_frames, stabilizing_transforms

__all__ = [
    "EdlFrame", "Quality", "group_sequences", "assess_quality", "DOWN_LOOKING", "UP_LOOKING",
    "Registration", "register_pair",
    "Plane", "DemGrid", "NestedDem", "load_dem", "intersect",
    "TieSet", "PoseSolution", "refine_poses",
    "OrthoGrid", "OrthoLevel", "local_crs", "MARS2000_GEOGRAPHIC", "JEZERO_LAT_LON", "plan_levels",
    "orthorectify", "mosaic_level", "track_geojson",
    "DescentResult", "solve_descent",
    "display_frames", "contact_sheet", "stabilizing_transforms",
    "Event", "detect_events", "structure_fraction", "touchdown_event",
    "GeometricScore", "geometric_score", "resample_truth",
]
