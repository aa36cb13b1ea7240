"""Stereo to 3-D: disparity, triangulation through the camera models, range, normals.

A stereo pair's calibrated frames are resampled to an epipolar-aligned (linearized) pair
(:func:`rovercam.camera.stereo.rectify_pair`), matched to a dense disparity image, and
triangulated through the rectified camera models into XYZ, range, surface normals and a range
uncertainty, in the geometry of the linearized left eye (MIPL's XYZ/RNG/UVW RDR convention,
docs/stereo.md).
"""
from rovercam.stereo.disparity import (
    disparity_image,
    disparity_search_range,
    matching_images,
    refine_disparity,
    smooth_luminance,
)
from rovercam.stereo.normals import surface_normals
from rovercam.stereo.occlusion import hidden_in_right
from rovercam.stereo.planes import plane_fill, plane_search
from rovercam.stereo.prior import compose_disparity, disparity_surface, neighbour_fill, warp_right
from rovercam.stereo.products import StereoProducts, stereo_products
from rovercam.stereo.rectification import RectifiedPair, rectify_images, resample_image
from rovercam.stereo.triangulation import (
    check_rectified,
    range_image,
    range_uncertainty,
    triangulate,
)

__all__ = [
    "StereoProducts",
    "stereo_products",
    "RectifiedPair",
    "rectify_images",
    "resample_image",
    "disparity_search_range",
    "disparity_image",
    "matching_images",
    "refine_disparity",
    "smooth_luminance",
    "hidden_in_right",
    "plane_fill",
    "plane_search",
    "disparity_surface",
    "warp_right",
    "compose_disparity",
    "neighbour_fill",
    "triangulate",
    "check_rectified",
    "range_image",
    "range_uncertainty",
    "surface_normals",
]
