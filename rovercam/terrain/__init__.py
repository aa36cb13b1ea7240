"""Terrain from stereo: gridded height models and triangle meshes.

Height models (DEMs) gridded from XYZ points in the site frame, the surface that vertical and
orthographic mosaics are projected onto, and triangle meshes (per stereo pair and merged per
site and drive), decimated to a stated error bound and written as PLY and binary glTF.
"""
from rovercam.terrain.dem import DEM, dem_from_points, merge_dems
from rovercam.terrain.mesh import Mesh

__all__ = ["DEM", "Mesh", "dem_from_points", "merge_dems"]
