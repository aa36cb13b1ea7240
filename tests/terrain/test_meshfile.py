"""Mesh files open in second, independent readers: PLY in plyfile, GLB in pygltflib.

Truth: the Mesh written, and for glTF the axis rotation of docs/stereo.md ("Meshes"): glTF
(x, y, z) = (east, up, south) = (y, -z, -x) of the site frame.
"""
from __future__ import annotations

import numpy as np
import plyfile
import pygltflib
import pytest

from rovercam.errors import MeshError
from rovercam.terrain.mesh import Mesh, mesh_from_heights
from rovercam.terrain.meshfile import R_gltf_frame, read_mesh, write_glb, write_ply

_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}
_DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}


@pytest.fixture
def terrain() -> Mesh:
    """A 2 m x 3 m patch around (100 m N, 50 m E) with a 0.4 m mound, coloured by height."""
    i, j = np.mgrid[0:41, 0:61].astype(np.float64)
    heights = (0.4 * np.exp(-((i - 20) ** 2 + (j - 30) ** 2) / 80) + 0.01 * i).astype(np.float32)
    grey = np.clip(heights / heights.max() * 255, 0, 255).astype(np.uint8)
    rgb = np.dstack([grey, 255 - grey, np.full_like(grey, 40)])
    return mesh_from_heights(heights, (100.0, 50.0), 0.05, max_error_m=0.002, colors=rgb)


def gltf_accessor(gltf: pygltflib.GLTF2, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    n = _COMPONENTS[acc.type]
    dtype = np.dtype(_DTYPES[acc.componentType])
    assert view.byteStride in (None, n * dtype.itemsize)     # tightly packed
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    data = np.frombuffer(gltf.binary_blob(), dtype, count=acc.count * n, offset=start)
    return data.reshape(acc.count, n) if n > 1 else data


def test_ply_opens_in_plyfile(tmp_path, terrain):
    path = tmp_path / "mesh.ply"
    write_ply(terrain, path)
    ply = plyfile.PlyData.read(str(path))
    assert ply.text is False                                  # binary
    assert "frame SITE_FRAME" in ply.comments
    vertex = ply["vertex"].data
    assert len(vertex) == len(terrain.vertices)
    xyz = np.column_stack([vertex["x"], vertex["y"], vertex["z"]])
    np.testing.assert_array_equal(xyz, terrain.vertices)     # float32 written as float32
    rgb = np.column_stack([vertex["red"], vertex["green"], vertex["blue"]])
    np.testing.assert_array_equal(rgb, terrain.colors)
    faces = np.vstack(ply["face"].data["vertex_indices"])
    np.testing.assert_array_equal(faces, terrain.faces)


def test_glb_opens_in_pygltflib_right_side_up(tmp_path, terrain):
    path = tmp_path / "mesh.glb"
    write_glb(terrain, path)
    gltf = pygltflib.GLTF2().load(str(path))
    assert gltf.asset.version == "2.0"
    assert gltf.asset.extras["frame"] == "SITE_FRAME"
    np.testing.assert_array_equal(gltf.asset.extras["R_gltf_frame"], R_gltf_frame)
    (primitive,) = gltf.meshes[0].primitives
    position = gltf_accessor(gltf, primitive.attributes.POSITION)
    v = terrain.vertices.astype(np.float64)
    expected = np.column_stack([v[:, 1], -v[:, 2], -v[:, 0]])   # east, up, south
    np.testing.assert_allclose(position, expected, rtol=0, atol=1e-5)   # m, float32 at 100 m
    faces = gltf_accessor(gltf, primitive.indices).reshape(-1, 3)
    np.testing.assert_array_equal(faces, terrain.faces)
    colors = gltf_accessor(gltf, primitive.attributes.COLOR_0)
    np.testing.assert_array_equal(colors[:, :3], terrain.colors)
    # right side up: the mound's top is the highest +y, and faces wind counter-clockwise seen
    # from +y (normals up), as glTF front faces
    top = np.argmax(-v[:, 2])
    assert np.argmax(position[:, 1]) == top
    p = position.astype(np.float64)
    n = np.cross(p[faces[:, 1]] - p[faces[:, 0]], p[faces[:, 2]] - p[faces[:, 0]])
    assert (n[:, 1] > 0).all()


def test_rotation_is_proper():
    np.testing.assert_allclose(R_gltf_frame @ R_gltf_frame.T, np.eye(3), atol=0)
    assert np.linalg.det(R_gltf_frame) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["mesh.ply", "mesh.glb"])
def test_read_mesh_round_trip(tmp_path, terrain, name):
    path = tmp_path / name
    (write_ply if name.endswith("ply") else write_glb)(terrain, path)
    back = read_mesh(path)
    assert back.frame == "SITE_FRAME"
    np.testing.assert_allclose(back.vertices, terrain.vertices, rtol=0, atol=1e-5)   # m
    np.testing.assert_array_equal(back.faces, terrain.faces)
    np.testing.assert_array_equal(back.colors[:, :3], terrain.colors)


def test_uncoloured_mesh_round_trip(tmp_path):
    mesh = mesh_from_heights(np.zeros((5, 5)), (0, 0), 1.0, max_error_m=0.1,
                             frame="ROVER_NAV_FRAME")
    write_ply(mesh, tmp_path / "a.ply")
    write_glb(mesh, tmp_path / "a.glb")
    for name in ("a.ply", "a.glb"):
        back = read_mesh(tmp_path / name)
        assert back.frame == "ROVER_NAV_FRAME" and back.colors is None
        np.testing.assert_array_equal(back.faces, mesh.faces)


def test_bad_meshes_and_files_raise(tmp_path):
    bad = Mesh(np.zeros((3, 3), np.float32), np.array([[0, 1, 5]], np.int32), "SITE_FRAME")
    with pytest.raises(MeshError, match="index vertices"):
        write_ply(bad, tmp_path / "x.ply")
    spaced = Mesh(np.zeros((3, 3), np.float32), np.array([[0, 1, 2]], np.int32), "SITE FRAME")
    with pytest.raises(MeshError, match="frame"):
        write_glb(spaced, tmp_path / "x.glb")
    with pytest.raises(MeshError, match=".obj"):
        read_mesh(tmp_path / "x.obj")
    (tmp_path / "junk.glb").write_bytes(b"not a gltf file")
    with pytest.raises(MeshError):
        read_mesh(tmp_path / "junk.glb")
