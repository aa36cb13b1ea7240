"""Stereo to 3-D: disparity, triangulation through the camera models, range, normals.

A stereo pair's calibrated frames are resampled to an epipolar-aligned (linearized) pair
(:func:`rovercam.camera.stereo.rectify_pair`), matched to a dense disparity image, and
triangulated through the rectified camera models into XYZ, range, surface normals and a range
uncertainty, in the geometry of the linearized left eye (MIPL's XYZ/RNG/UVW RDR convention,
docs/stereo.md).
"""
from rovercam.stereo.products import StereoProducts

__all__ = ["StereoProducts"]
