"""Terrain meshes as files: binary PLY and binary glTF (.glb), through trimesh.

PLY keeps the mesh's own frame and units (metres, +z down for the site and rover frames) and
records the frame name in a header comment (``comment frame SITE_FRAME``). glTF 2.0 fixes its
axes (Khronos glTF 2.0 specification, section 3.4 "Coordinate System and Units": right-handed,
+Y up, metres), so the GLB holds the vertices rotated by :data:`R_gltf_frame`::

    (x, y, z)_gltf = (y, -z, -x)_frame      i.e. glTF x = east, y = up, z = south

a proper rotation (determinant +1, so the faces keep their winding), under which a glTF viewer
shows the terrain right side up. The frame name and the rotation are stored in the asset's and
the scene's ``extras`` (``{"frame": ..., "R_gltf_frame": [[...], ...]}``), from which
:func:`read_mesh` undoes the rotation (docs/stereo.md, "Meshes").
"""
from __future__ import annotations

import io
import json
import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from rovercam.errors import MeshError
from rovercam.terrain.mesh import Mesh

if TYPE_CHECKING:
    import trimesh

# trimesh is imported inside the functions: it takes ~0.5 s to import, and rovercam.terrain
# (which exports these names) is imported by every mosaic run, most of which write no mesh.

__all__ = ["R_gltf_frame", "ply_bytes", "glb_bytes", "write_ply", "write_glb", "read_mesh"]

#: Rotation from a rovercam frame (+x north/forward, +y east/right, +z down) to glTF axes
#: (+x east, +y up, +z south): ``v_gltf = R_gltf_frame @ v_frame``.
R_gltf_frame = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
R_gltf_frame.flags.writeable = False

_GLB_MAGIC = 0x46546C67   # "glTF"
_JSON_CHUNK = 0x4E4F534A  # "JSON"


def ply_bytes(mesh: Mesh) -> bytes:
    """The mesh as a binary (little-endian) PLY file.

    Parameters
    ----------
    mesh : Mesh
        Vertices are written as stored (metres in ``mesh.frame``), with per-vertex ``red``,
        ``green``, ``blue``, ``alpha`` uchar properties when the mesh has colours.

    Returns
    -------
    bytes
        The file; its header carries ``comment frame <mesh.frame>``.

    Raises
    ------
    rovercam.errors.MeshError
        On an inconsistent mesh or a frame name that cannot go in a header line.
    """
    import trimesh.exchange.ply

    tm = _trimesh(mesh, np.asarray(mesh.vertices, np.float32))
    data = trimesh.exchange.ply.export_ply(tm, encoding="binary", vertex_normal=False)
    head, sep, body = data.partition(b"end_header\n")
    lines = head.split(b"\n")
    lines.insert(2, f"comment frame {mesh.frame}".encode("ascii"))   # after "ply", "format"
    return b"\n".join(lines) + sep + body


def glb_bytes(mesh: Mesh) -> bytes:
    """The mesh as a binary glTF 2.0 file (.glb), in glTF axes (+y up).

    Parameters
    ----------
    mesh : Mesh
        Vertices are rotated by :data:`R_gltf_frame` (metres kept); colours become the
        ``COLOR_0`` vertex attribute.

    Returns
    -------
    bytes
        The file; ``asset.extras`` and ``scenes[0].extras`` hold ``frame`` and
        ``R_gltf_frame``.

    Raises
    ------
    rovercam.errors.MeshError
        On an inconsistent mesh.
    """
    import trimesh.exchange.gltf

    extras = {"frame": mesh.frame, "R_gltf_frame": R_gltf_frame.tolist()}
    vertices = np.asarray(mesh.vertices, np.float64) @ R_gltf_frame.T
    tm = _trimesh(mesh, vertices.astype(np.float32))
    scene = trimesh.Scene()
    scene.add_geometry(tm, geom_name="terrain", node_name="terrain")
    scene.metadata.update(extras)

    def add_asset_extras(tree: dict) -> None:
        tree.setdefault("asset", {}).setdefault("extras", {}).update(extras)

    return trimesh.exchange.gltf.export_glb(scene, include_normals=False,
                                            tree_postprocessor=add_asset_extras)


def write_ply(mesh: Mesh, path: str | os.PathLike) -> None:
    """Write the mesh as binary PLY (see :func:`ply_bytes`).

    Raises
    ------
    rovercam.errors.MeshError
        On an inconsistent mesh.
    """
    Path(path).write_bytes(ply_bytes(mesh))


def write_glb(mesh: Mesh, path: str | os.PathLike) -> None:
    """Write the mesh as binary glTF in glTF axes (see :func:`glb_bytes`).

    Raises
    ------
    rovercam.errors.MeshError
        On an inconsistent mesh.
    """
    Path(path).write_bytes(glb_bytes(mesh))


def read_mesh(path: str | os.PathLike) -> Mesh:
    """Read a PLY or GLB mesh written by :func:`write_ply` or :func:`write_glb`.

    Parameters
    ----------
    path : str or path-like
        A ``.ply`` or ``.glb`` file.

    Returns
    -------
    Mesh
        Vertices in the file's frame (a GLB's rotation undone), float32 metres; colours as
        RGBA uint8 when the file has vertex colours. A file without a rovercam frame comes
        back as stored, with frame ``"UNKNOWN"`` (PLY) or ``"GLTF"`` (GLB, glTF axes).

    Raises
    ------
    rovercam.errors.MeshError
        On another suffix, or a file that holds no triangle mesh.
    """
    import trimesh

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".ply", ".glb"):
        raise MeshError(f"{p}: read_mesh reads .ply and .glb files, not {suffix!r}")
    data = p.read_bytes()
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=suffix[1:], process=False,
                              force="mesh")
    except Exception as exc:   # trimesh raises many types for a bad file
        raise MeshError(f"{p}: not a readable mesh ({exc})") from exc
    if not isinstance(loaded, trimesh.Trimesh) or loaded.faces is None:
        raise MeshError(f"{p}: holds no triangle mesh")
    vertices = np.asarray(loaded.vertices, np.float64)
    if suffix == ".ply":
        frame = _ply_frame(data) or "UNKNOWN"
    else:
        extras = _glb_asset_extras(data)
        frame = str(extras.get("frame", "GLTF"))
        if "frame" in extras:
            vertices = vertices @ np.asarray(extras.get("R_gltf_frame", R_gltf_frame))
    colors = None
    if loaded.visual.kind == "vertex":
        colors = np.asarray(loaded.visual.vertex_colors, np.uint8)
    return Mesh(vertices.astype(np.float32), np.asarray(loaded.faces, np.int32), frame, colors)


def _trimesh(mesh: Mesh, vertices: NDArray[np.float32]) -> trimesh.Trimesh:
    import trimesh

    faces = np.asarray(mesh.faces)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
        raise MeshError(f"mesh needs (N, 3) vertices and (M, 3) faces, got {vertices.shape} "
                        f"and {faces.shape}")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise MeshError(f"faces index vertices 0..{len(vertices) - 1}, got "
                        f"{faces.min()}..{faces.max()}")
    frame = str(mesh.frame)
    if not frame or not frame.isprintable() or not frame.isascii() or " " in frame:
        raise MeshError(f"frame must be a printable ASCII name without spaces, got {frame!r}")
    colors = None
    if mesh.colors is not None:
        colors = np.asarray(mesh.colors)
        if colors.dtype != np.uint8 or colors.shape not in ((len(vertices), 3),
                                                            (len(vertices), 4)):
            raise MeshError(f"colors must be uint8 (N, 3) or (N, 4) for {len(vertices)} "
                            f"vertices, got {colors.dtype} {colors.shape}")
    return trimesh.Trimesh(vertices=vertices, faces=faces.astype(np.int64),
                           vertex_colors=colors, process=False, validate=False)


def _ply_frame(data: bytes) -> str | None:
    head = data.split(b"end_header", 1)[0].decode("ascii", "replace")
    for line in head.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[:2] == ["comment", "frame"]:
            return parts[2]
    return None


def _glb_asset_extras(data: bytes) -> dict:
    """``asset.extras`` of a GLB's JSON chunk ({} when absent)."""
    if len(data) < 20:
        return {}
    magic, _, _ = struct.unpack_from("<III", data, 0)
    length, kind = struct.unpack_from("<II", data, 12)
    if magic != _GLB_MAGIC or kind != _JSON_CHUNK:
        return {}
    tree = json.loads(data[20:20 + length])
    extras = tree.get("asset", {}).get("extras", {})
    return extras if isinstance(extras, dict) else {}
