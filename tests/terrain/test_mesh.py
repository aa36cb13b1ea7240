"""Terrain meshes from point images and height grids: the error bound, discontinuities, holes,
orientation, crack-freeness.

Truth: analytic surfaces (a range field with Gaussian bumps seen by an ideal pinhole camera; a
height field of bumps and ripples). Errors are measured from the output mesh alone: every face
is rasterised on the pixel grid and each covered point is compared with the face's linear
interpolation at that pixel (an upper bound of the point's distance to the surface), so the test
shares nothing with the decimation's own bookkeeping.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rovercam.errors import MeshError
from rovercam.terrain.mesh import Mesh, merge_meshes, mesh_from_heights, mesh_from_xyz

#: float32 rounding of metre-scale coordinates (eps 6e-8 relative at <= 10 m), metres
F32_M = 1e-5


def pinhole_xyz(height: int, width: int, *, bumps: int = 40, step_m: float = 0.0,
                seed: int = 0) -> np.ndarray:
    """(H, W, 3) points seen by a camera at the origin looking along +x (+y right, +z down):
    a range of 4 +- 0.5 m with Gaussian bumps (rocks 0.15 m high), plus ``step_m`` on the
    right half of the image."""
    i, j = np.mgrid[0:height, 0:width].astype(np.float64)
    ray = np.dstack([np.full_like(i, width / 1.6), j - (width - 1) / 2, i - (height - 1) / 2])
    ray /= np.linalg.norm(ray, axis=2, keepdims=True)
    rng_m = 4.0 + 0.5 * np.sin(i / height * 6) * np.cos(j / width * 5)
    rng = np.random.default_rng(seed)
    for _ in range(bumps):
        ci, cj = rng.uniform(0, height), rng.uniform(0, width)
        s = rng.uniform(0.01, 0.05) * width
        rng_m -= 0.15 * np.exp(-((i - ci) ** 2 + (j - cj) ** 2) / (2 * s * s))
    rng_m[:, width // 2:] += step_m
    return (ray * rng_m[..., None]).astype(np.float32)


def rough_heights(rows: int, cols: int) -> np.ndarray:
    """Heights (m): smooth hills on the left half; hills, 2 cm ripples and a rock on the right."""
    i, j = np.mgrid[0:rows, 0:cols].astype(np.float64)
    h = 0.3 * np.sin(i / 40) * np.cos(j / 30)
    rough = (j >= cols // 2)
    rock = 0.2 * np.exp(-((i - rows / 2) ** 2 + (j - 0.75 * cols) ** 2) / 60)
    h += rough * (0.02 * np.sin(i / 2.5 + j / 3.5) + rock)
    return h.astype(np.float32)


def pixel_of_vertex(mesh: Mesh, xyz: np.ndarray) -> np.ndarray:
    """(N, 2) (row, col) of every vertex, found by exact coordinate match in the input image."""
    lookup = {p.tobytes(): k for k, p in enumerate(xyz.reshape(-1, 3))}
    flat = np.array([lookup[v.tobytes()] for v in mesh.vertices.astype(np.float32)])
    return np.column_stack(np.divmod(flat, xyz.shape[1]))


def rasterised_errors(faces: np.ndarray, rc: np.ndarray, values: np.ndarray,
                      vertex_values: np.ndarray) -> tuple[float, np.ndarray]:
    """Largest |value - face interpolation| over grid points inside faces, and the covered mask.

    faces (M, 3); rc (N, 2) grid (row, col) of the vertices; values (H, W, C); vertex_values
    (N, C)."""
    worst, covered = 0.0, np.zeros(values.shape[:2], bool)
    for f in faces:
        r, c = rc[f, 0], rc[f, 1]
        ii, jj = np.mgrid[r.min():r.max() + 1, c.min():c.max() + 1]
        a = np.array([r, c, np.ones(3)], float)
        bary = np.linalg.solve(a, np.vstack([ii.ravel(), jj.ravel(), np.ones(ii.size)]))
        inside = (bary >= -1e-9).all(axis=0)
        ri, ci = ii.ravel()[inside], jj.ravel()[inside]
        interp = bary[:, inside].T @ vertex_values[f].astype(np.float64)
        err = np.linalg.norm(values[ri, ci].astype(np.float64) - interp, axis=1)
        worst = max(worst, float(err.max()))
        covered[ri, ci] = True
    return worst, covered


def heights_rc(mesh: Mesh, origin: tuple[float, float], cell: float) -> np.ndarray:
    v = mesh.vertices.astype(np.float64)
    return np.rint((v[:, :2] - origin) / cell).astype(int)


def normals(mesh: Mesh) -> np.ndarray:
    v = mesh.vertices.astype(np.float64)
    f = mesh.faces
    return np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])


def edge_use(faces: np.ndarray) -> np.ndarray:
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    return np.unique(edges, axis=0, return_counts=True)[1]


@pytest.mark.parametrize("max_error_m", [0.002, 0.01, 0.05])
def test_heights_error_bound_holds_and_smooth_ground_decimates(max_error_m):
    h = rough_heights(160, 256)
    origin, cell = (12.5, -3.0), 0.02
    mesh = mesh_from_heights(h, origin, cell, max_error_m=max_error_m)
    rc = heights_rc(mesh, origin, cell)
    worst, covered = rasterised_errors(mesh.faces, rc, h[..., None], -mesh.vertices[:, 2:])
    assert worst <= max_error_m + F32_M
    assert covered.all()
    full = 2 * 159 * 255
    assert len(mesh.faces) < full / 4
    smooth = (rc[mesh.faces, 1] < 128).all(axis=1).sum()
    rough = (rc[mesh.faces, 1] >= 128).all(axis=1).sum()
    if max_error_m < 0.02:                  # bounds below the ripples' 2 cm amplitude
        assert smooth * 3 < rough           # the smooth half needs far fewer triangles


def test_heights_vertices_follow_the_dem_convention():
    h = rough_heights(40, 50)
    mesh = mesh_from_heights(h, (100.0, 200.0), 0.5, max_error_m=0.001)
    rc = heights_rc(mesh, (100.0, 200.0), 0.5)
    np.testing.assert_allclose(mesh.vertices[:, 0], 100.0 + rc[:, 0] * 0.5, atol=F32_M * 30)  # m
    np.testing.assert_allclose(mesh.vertices[:, 2], -h[rc[:, 0], rc[:, 1]], atol=0)  # z = -height
    assert mesh.frame == "SITE_FRAME" and mesh.vertices.dtype == np.float32
    assert mesh.faces.dtype == np.int32
    assert (normals(mesh)[:, 2] < 0).all()   # counter-clockwise seen from above: normals up


@pytest.mark.parametrize("max_error_m", [0.002, 0.01])
def test_xyz_error_bound_holds(max_error_m):
    xyz = pinhole_xyz(150, 200)
    mesh = mesh_from_xyz(xyz, max_error_m=max_error_m, frame="ROVER_NAV_FRAME")
    rc = pixel_of_vertex(mesh, xyz)
    worst, covered = rasterised_errors(mesh.faces, rc, xyz, mesh.vertices)
    assert worst <= max_error_m + F32_M
    assert covered.all()
    assert len(mesh.faces) < 2 * 149 * 199 / 3


def test_xyz_faces_face_the_camera_and_are_not_degenerate():
    xyz = pinhole_xyz(64, 96)
    viewpoint = np.array([0.0, 0.0, 0.0])
    mesh = mesh_from_xyz(xyz, max_error_m=0.003, frame="ROVER_NAV_FRAME", viewpoint=viewpoint)
    n = normals(mesh)
    toward = viewpoint - mesh.vertices[mesh.faces[:, 0]]
    assert ((n * toward).sum(axis=1) > 0).all()
    assert (np.linalg.norm(n, axis=1) > 0).all()
    f = mesh.faces
    assert ((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])).all()


def test_no_faces_across_a_range_step():
    xyz = pinhole_xyz(96, 128, step_m=1.0)      # range jumps by 1 m (25 %) at column 64
    mesh = mesh_from_xyz(xyz, max_error_m=0.05, frame="ROVER_NAV_FRAME")
    cols = pixel_of_vertex(mesh, xyz)[mesh.faces, 1]
    left, right = (cols <= 63).all(axis=1), (cols >= 64).all(axis=1)
    assert (left | right).all()
    assert left.any() and right.any()
    # the same surface without the step is meshed across column 63/64
    plain = mesh_from_xyz(pinhole_xyz(96, 128), max_error_m=0.05, frame="ROVER_NAV_FRAME")
    cols = pixel_of_vertex(plain, pinhole_xyz(96, 128))[plain.faces, 1]
    assert ((cols.min(axis=1) <= 63) & (cols.max(axis=1) >= 64)).any()


def test_small_steps_within_the_ratio_stay_connected():
    xyz = pinhole_xyz(64, 64, step_m=0.08, bumps=0)   # 2 % of range: below max_edge_ratio 5 %
    mesh = mesh_from_xyz(xyz, max_error_m=0.2, frame="ROVER_NAV_FRAME")
    cols = pixel_of_vertex(mesh, xyz)[mesh.faces, 1]
    assert ((cols.min(axis=1) <= 31) & (cols.max(axis=1) >= 32)).any()
    broken = mesh_from_xyz(xyz, max_error_m=0.2, frame="ROVER_NAV_FRAME", max_edge_ratio=0.01)
    cols = pixel_of_vertex(broken, xyz)[broken.faces, 1]
    assert not ((cols.min(axis=1) <= 31) & (cols.max(axis=1) >= 32)).any()


def test_holes_get_no_faces_and_the_rest_stays_covered():
    xyz = pinhole_xyz(80, 100)
    xyz[20:35, 40:70] = np.nan
    xyz[60, 10] = np.nan
    mesh = mesh_from_xyz(xyz, max_error_m=0.004, frame="ROVER_NAV_FRAME")
    assert np.isfinite(mesh.vertices).all()
    rc = pixel_of_vertex(mesh, np.nan_to_num(xyz, nan=1e9))
    worst, covered = rasterised_errors(mesh.faces, rc, xyz, mesh.vertices)
    assert worst <= 0.004 + F32_M
    valid = np.isfinite(xyz[..., 0])
    assert not (covered & ~valid).any()      # no face spans a hole
    assert covered[valid].mean() > 0.99      # every valid pixel keeps at least one triangle


def test_mesh_is_crack_free():
    """A T-junction would leave a sliver hole: the disk's Euler characteristic drops below 1
    and the covered area below the grid's."""
    h = rough_heights(129, 200)
    mesh = mesh_from_heights(h, (0.0, 0.0), 1.0, max_error_m=0.005)
    use = edge_use(mesh.faces)
    assert use.max() <= 2
    assert len(mesh.vertices) - len(use) + len(mesh.faces) == 1
    v = mesh.vertices[:, :2].astype(np.float64)
    f = mesh.faces
    d1, d2 = v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]]
    area = np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]).sum() / 2
    assert area == pytest.approx(128 * 199, rel=1e-9)


def test_a_plane_needs_two_triangles_per_square():
    y, x = np.mgrid[0:65, 0:65].astype(np.float32)
    xyz = np.dstack([np.full_like(x, 5.0), x * 0.01 - 0.32, y * 0.01 - 0.32])
    mesh = mesh_from_xyz(xyz, max_error_m=0.001, frame="ROVER_NAV_FRAME")
    assert mesh.faces.shape == (2, 3) and mesh.vertices.shape == (4, 3)


def test_colors_follow_the_vertices():
    xyz = pinhole_xyz(40, 60)
    rgb = np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    mesh = mesh_from_xyz(xyz, max_error_m=0.01, frame="ROVER_NAV_FRAME", colors=rgb)
    rc = pixel_of_vertex(mesh, xyz)
    np.testing.assert_array_equal(mesh.colors, rgb[rc[:, 0], rc[:, 1]])
    grey = mesh_from_heights(rough_heights(20, 20), (0, 0), 1.0, max_error_m=0.01,
                             colors=np.full((20, 20), 7, np.uint8))
    assert grey.colors.shape == (len(grey.vertices), 3) and (grey.colors == 7).all()


def test_merge_meshes_offsets_faces_and_keeps_colors():
    a = mesh_from_heights(rough_heights(20, 30), (0, 0), 1.0, max_error_m=0.01,
                          colors=np.zeros((20, 30, 3), np.uint8))
    b = mesh_from_heights(rough_heights(10, 10), (50, 0), 1.0, max_error_m=0.01,
                          colors=np.full((10, 10, 4), 9, np.uint8))
    m = merge_meshes([a, b])
    assert len(m.vertices) == len(a.vertices) + len(b.vertices)
    np.testing.assert_array_equal(m.faces[len(a.faces):], b.faces + len(a.vertices))
    np.testing.assert_array_equal(m.vertices[m.faces[len(a.faces):]], b.vertices[b.faces])
    assert m.colors.shape == (len(m.vertices), 4) and (m.colors[: len(a.vertices), 3] == 255).all()
    assert m.faces.dtype == np.int32


@pytest.mark.parametrize("call, message", [
    (lambda: mesh_from_xyz(np.zeros((4, 4)), max_error_m=0.1, frame="F"), "(H, W, 3)"),
    (lambda: mesh_from_xyz(np.zeros((4, 4, 3)), max_error_m=0.0, frame="F"), "max_error_m"),
    (lambda: mesh_from_xyz(np.zeros((4, 4, 3)), max_error_m=0.1, frame="F",
                           max_edge_ratio=-1), "max_edge_ratio"),
    (lambda: mesh_from_xyz(np.zeros((4, 4, 3)), max_error_m=0.1, frame="F",
                           viewpoint=(0, np.nan, 0)), "viewpoint"),
    (lambda: mesh_from_xyz(np.zeros((4, 4, 3)), max_error_m=0.1, frame="F",
                           colors=np.zeros((4, 4, 3))), "uint8"),
    (lambda: mesh_from_heights(np.zeros((1, 4)), (0, 0), 1.0, max_error_m=0.1), "2 x 2"),
    (lambda: mesh_from_heights(np.zeros((4, 4)), (0, 0), 0.0, max_error_m=0.1), "cell_m"),
    (lambda: mesh_from_heights(np.zeros((4, 4)), (0,), 1.0, max_error_m=0.1), "origin"),
    (lambda: merge_meshes([]), "at least one"),
    (lambda: merge_meshes([Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), "A"),
                           Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32), "B")]),
     "different frames"),
])
def test_bad_input_raises_mesh_error(call, message):
    with pytest.raises(MeshError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_all_invalid_gives_an_empty_mesh():
    mesh = mesh_from_xyz(np.full((8, 8, 3), np.nan, np.float32), max_error_m=0.1, frame="F")
    assert mesh.vertices.shape == (0, 3) and mesh.faces.shape == (0, 3)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), rows=st.integers(2, 70), cols=st.integers(2, 70),
       holes=st.floats(0.0, 0.3), max_error_m=st.floats(0.0005, 0.2))
def test_any_grid_keeps_the_bound_and_only_valid_faces(seed, rows, cols, holes, max_error_m):
    rng = np.random.default_rng(seed)
    h = (np.cumsum(rng.normal(0, 0.01, (rows, cols)), axis=0)
         + 0.1 * np.sin(np.arange(cols) / 5)).astype(np.float32)
    h[rng.random((rows, cols)) < holes] = np.nan
    mesh = mesh_from_heights(h, (0.0, 0.0), 0.1, max_error_m=max_error_m)
    rc = heights_rc(mesh, (0.0, 0.0), 0.1)
    assert np.isfinite(mesh.vertices).all()
    if len(mesh.faces):
        worst, covered = rasterised_errors(mesh.faces, rc, h[..., None], -mesh.vertices[:, 2:])
        assert worst <= max_error_m + F32_M
        assert not (covered & np.isnan(h)).any()
        assert (normals(mesh)[:, 2] < 0).all()
        assert edge_use(mesh.faces).max() <= 2
