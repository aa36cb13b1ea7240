"""Terrain from stereo: gridded height models and triangle meshes.

Height models (DEMs) gridded from XYZ points in the site frame, the surface that vertical and
orthographic mosaics are projected onto, and triangle meshes (per stereo pair and merged per
site and drive), decimated to a stated error bound and written as PLY and binary glTF.
"""
from rovercam.terrain.dem import DEM, dem_from_points, merge_dems
from rovercam.terrain.mesh import Mesh, merge_meshes, mesh_from_heights, mesh_from_xyz
from rovercam.terrain.meshfile import glb_bytes, ply_bytes, read_mesh, write_glb, write_ply

__all__ = [
    "DEM",
    "dem_from_points",
    "merge_dems",
    "Mesh",
    "mesh_from_xyz",
    "mesh_from_heights",
    "merge_meshes",
    "write_ply",
    "write_glb",
    "ply_bytes",
    "glb_bytes",
    "read_mesh",
]
