"""Camera geometry: JPL CAHV, CAHVOR and CAHVORE models, pose-first pinhole models, coordinate
systems, linearization, remap grids.

Every model mirrors its label components and is vectorized over float64 points and pixels:
``project(points (N, 3)) -> (N, 2)``, ``unproject(pixels (N, 2)) -> (origins, directions)``,
``project_directions`` for points at infinity. Pixel, frame, quaternion and transform-naming
conventions are written once in docs/conventions.md.

>>> import numpy as np
>>> from rovercam.camera import CAHV
>>> cam = CAHV(c=(0, 0, 0), a=(0, 0, 1), h=(1000, 0, 512), v=(0, 1000, 384))
>>> cam.project(np.array([[0.1, 0.2, 2.0]]))
array([[562., 484.]])
"""
from rovercam.camera import coordinates
from rovercam.camera.cahv import CAHV
from rovercam.camera.cahvor import CAHVOR
from rovercam.camera.cahvore import CAHVORE
from rovercam.camera.label import from_pds3, from_pds4, to_pds4
from rovercam.camera.linearize import linearize
from rovercam.camera.model import CameraModel, InternalParameters
from rovercam.camera.opencv import OpenCVCamera, to_opencv
from rovercam.camera.pose import (
    camera_from_pose,
    pose_from_camera,
    rotation_from_yaw_pitch_roll,
    yaw_pitch_roll_from_rotation,
)
from rovercam.camera.remap import clear_remap_cache, inverse_remap_grid, remap_grid
from rovercam.camera.stereo import rectify_pair

__all__ = [
    "CameraModel",
    "InternalParameters",
    "CAHV",
    "CAHVOR",
    "CAHVORE",
    "from_pds3",
    "from_pds4",
    "to_pds4",
    "linearize",
    "remap_grid",
    "inverse_remap_grid",
    "clear_remap_cache",
    "rectify_pair",
    "to_opencv",
    "OpenCVCamera",
    "camera_from_pose",
    "pose_from_camera",
    "rotation_from_yaw_pitch_roll",
    "yaw_pitch_roll_from_rotation",
    "coordinates",
]
