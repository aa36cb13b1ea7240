"""Published stereo and terrain outputs with analytic truth, for viewer and catalog tests.

The outputs go through the generic publishing path (:func:`rovercam.publish.publish_files`)
with the file names, band tags and media types of the issue-20 contract (docs/stereo.md), so a
test that reads them exercises the same catalog and store path as the stereo stage's outputs.

The scene: a pinhole camera ``ANALYTIC_HEIGHT_M`` above the site origin, over a tilted ground
plane ``z = slope_x x + slope_y y`` (SITE_FRAME: +x north, +y east, +z down, metres;
docs/conventions.md), looking north and pitched down by ``pitch_deg``. Pixel ``(x, y)`` (centres at integers) looks along ``fwd + (x - cx)/f right +
(y - cy)/f down``; where that ray meets the ground at a range of at most ``max_range_m`` the
products hold the intersection, elsewhere (sky, far ground) NaN. Range, XYZ and normals are
exact functions of the pixel (:func:`plane_scene`), so a test knows every stored value.
"""
from __future__ import annotations

import datetime as _dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover - imported where used
    from rovercam.catalog import Catalog
    from rovercam.storage import Store

__all__ = ["PlaneScene", "plane_scene", "write_float_cog", "analytic_mesh", "publish_stereo_output",
           "publish_terrain_output", "GLB_MEDIA_TYPE", "PLY_MEDIA_TYPE", "ANALYTIC_HEIGHT_M"]

#: Media types of the mesh files (issue-20 contract).
GLB_MEDIA_TYPE = "model/gltf-binary"
PLY_MEDIA_TYPE = "application/x-ply"
#: Height of the analytic camera centre above the ground plane, metres.
ANALYTIC_HEIGHT_M = 1.5


@dataclass(frozen=True)
class PlaneScene:
    """The analytic products of :func:`plane_scene` (all (H, W) or (H, W, 3) float32, NaN = none).

    Attributes
    ----------
    xyz : (H, W, 3) float32
        Ground point of each pixel, metres, SITE_FRAME.
    range : (H, W) float32
        Distance from the camera centre, metres.
    normals : (H, W, 3) float32
        The ground's upward unit normal ``(slope_x, slope_y, -1) / norm``, which faces the camera.
    range_sigma : (H, W) float32
        ``sigma_coeff * range**2`` metres (the shape of a stereo range error).
    centre : (3,) float64
        Camera centre, SITE_FRAME metres.
    """

    xyz: NDArray[np.float32]
    range: NDArray[np.float32]
    normals: NDArray[np.float32]
    range_sigma: NDArray[np.float32]
    centre: NDArray[np.float64]


def plane_scene(width: int = 640, height: int = 480, *, focal_px: float = 500.0, pitch_deg: float = 20.0,
                max_range_m: float = 30.0, sigma_coeff: float = 0.002, slope_x: float = -0.05,
                slope_y: float = 0.1) -> PlaneScene:
    """XYZ, range, normals and range sigma of a camera looking at a tilted ground plane.

    Parameters
    ----------
    width, height : int
        Image size, pixels.
    focal_px : float
        Pinhole focal length, pixels; the principal point is the image centre.
    pitch_deg : float
        Downward tilt of the optical axis from level, degrees.
    max_range_m : float
        Farther ground is no data (NaN).
    sigma_coeff : float
        Range sigma per squared metre of range, m-1.
    slope_x, slope_y : float
        The ground's ``dz/dx`` and ``dz/dy`` (z down: a negative slope rises).

    Returns
    -------
    PlaneScene
    """
    if width < 2 or height < 2 or focal_px <= 0 or not 0 < pitch_deg < 90 or max_range_m <= 0:
        raise ValueError(f"bad scene {width}x{height}, f {focal_px}, pitch {pitch_deg}, max range {max_range_m}")
    p = np.radians(pitch_deg)
    fwd = np.array([np.cos(p), 0.0, np.sin(p)])
    right = np.array([0.0, 1.0, 0.0])
    down = np.cross(fwd, right)  # camera x right, y down, z forward is right-handed
    centre = np.array([0.0, 0.0, -ANALYTIC_HEIGHT_M])
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    d = fwd + ((x - cx) / focal_px)[..., None] * right + ((y - cy) / focal_px)[..., None] * down
    # C + t d on the plane: Cz + t dz = sx (Cx + t dx) + sy (Cy + t dy)
    denom = d[..., 2] - slope_x * d[..., 0] - slope_y * d[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(denom > 0, (slope_x * centre[0] + slope_y * centre[1] - centre[2]) / denom, np.nan)
    xyz = centre + t[..., None] * d
    rng = t * np.linalg.norm(d, axis=-1)
    bad = ~np.isfinite(rng) | (rng > max_range_m)
    xyz[bad] = np.nan
    rng[bad] = np.nan
    up = np.array([slope_x, slope_y, -1.0]) / np.sqrt(1 + slope_x**2 + slope_y**2)
    normals = np.where(bad[..., None], np.nan, up)
    return PlaneScene(xyz.astype(np.float32), rng.astype(np.float32), normals.astype(np.float32),
                      (sigma_coeff * rng**2).astype(np.float32), centre)


def write_float_cog(path: str | Path, bands: NDArray[np.float32], *, names: list[str], units: list[str],
                    tags: dict[str, str] | None = None) -> Path:
    """Write a float32 COG with NaN no-data and the contract's band tags ``name`` and ``units``.

    Parameters
    ----------
    path : path
    bands : (H, W) or (H, W, B) float32
    names, units : list of str
        One per band (``["X", "Y", "Z"]``, ``["m", "m", "m"]``).
    tags : dict, optional
        Dataset tags (``frame``, ``mipl_product``).
    """
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    arr = np.asarray(bands, dtype=np.float32)
    arr = arr[..., None] if arr.ndim == 2 else arr
    h, w, nb = arr.shape
    if len(names) != nb or len(units) != nb:
        raise ValueError(f"{nb} bands need {nb} names and units, got {names}, {units}")
    with warnings.catch_warnings(), rasterio.open(path, "w", driver="COG", width=w, height=h, count=nb, dtype="float32",
                       nodata=float("nan"), BLOCKSIZE=512, COMPRESS="DEFLATE", PREDICTOR="YES",
                       OVERVIEWS="AUTO", OVERVIEW_RESAMPLING="AVERAGE") as dst:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # rover-frame products: no geotransform
        dst.write(np.moveaxis(arr, 2, 0))
        for i, (n, u) in enumerate(zip(names, units), start=1):
            dst.update_tags(i, name=n, units=u)
        if tags:
            dst.update_tags(**tags)
    return Path(path)


def analytic_mesh(n: int = 24, *, size_m: float = 4.0, hill_m: float = 0.8) -> Any:
    """A ``trimesh.Trimesh`` of a square ground patch with a gaussian hill and height colours.

    Vertices are glTF axes (+y up, metres): x east, y up, z south, over ``[-size/2, size/2]``;
    the hill (``hill_m`` high, sigma ``size/6``) is at the centre. Colours ramp from dark brown at
    the base to light tan at the top, so a lit render is neither blank nor uniform.
    """
    import trimesh

    s = np.linspace(-size_m / 2, size_m / 2, n)
    gx, gz = np.meshgrid(s, s)
    gy = hill_m * np.exp(-(gx**2 + gz**2) / (2 * (size_m / 6) ** 2))
    vertices = np.stack([gx, gy, gz], axis=-1).reshape(-1, 3)
    i = np.arange(n * n).reshape(n, n)
    a, b, c, d = i[:-1, :-1].ravel(), i[:-1, 1:].ravel(), i[1:, :-1].ravel(), i[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])  # counter-clockwise from +y
    t = (gy.ravel() / hill_m)[:, None]
    colors = np.concatenate([(1 - t) * [110, 70, 40] + t * [230, 200, 150], np.full((n * n, 1), 255)], axis=1)
    return trimesh.Trimesh(vertices, faces, vertex_colors=colors.astype(np.uint8), process=False)


def _png(image: NDArray[np.uint8]) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    assert ok
    return buf.tobytes()


def _provenance(instrument: str, steps: str) -> Any:
    from rovercam.provenance import CalibrationLevel, Provenance

    return Provenance(inputs={f"SYN_{instrument}_L_0001": "a" * 64, f"SYN_{instrument}_R_0001": "b" * 64},
                      calibration={}, steps=[steps], software_version="0.1.0", config_hash="c" * 64,
                      level=CalibrationLevel(3, "m"))


def publish_stereo_output(store: "Store", catalog: "Catalog", *, sol: int, name: str,
                          instrument: str = "SYNCAM", scene: PlaneScene | None = None) -> Any:
    """Publish an output of kind ``"stereo"`` holding :func:`plane_scene`'s products.

    Files: ``xyz.tif``, ``range.tif``, ``normals.tif``, ``range_sigma.tif`` (float32 COGs, NaN
    no-data, band tags ``name``/``units``, dataset tags ``frame``/``mipl_product``),
    ``mesh.glb`` and ``mesh.ply`` (:func:`analytic_mesh`), ``preview.png``, ``thumbnail.png``.

    Returns
    -------
    rovercam.publish.PublishedProduct
    """
    from rovercam.publish import COG_MEDIA_TYPE, publish_files

    scene = scene or plane_scene()
    mesh = analytic_mesh()
    with tempfile.TemporaryDirectory(prefix="stereo-fixture-") as tmp:
        d = Path(tmp)
        frame = {"frame": "SITE_FRAME"}
        rasters = {
            "xyz": (scene.xyz, ["X", "Y", "Z"], ["m"] * 3, "XYZ"),
            "range": (scene.range, ["RANGE"], ["m"], "RNG"),
            "normals": (scene.normals, ["NX", "NY", "NZ"], ["1"] * 3, "UVW"),
            "range_sigma": (scene.range_sigma, ["RANGE_SIGMA"], ["m"], "none"),
        }
        files: dict[str, tuple[Any, ...]] = {}
        for key, (arr, names, units, mipl) in rasters.items():
            path = write_float_cog(d / f"{key}.tif", arr, names=names, units=units,
                                   tags={**frame, "mipl_product": mipl})
            files[key] = (path.name, path, ("data",), COG_MEDIA_TYPE, key)
        (d / "mesh.glb").write_bytes(mesh.export(file_type="glb"))
        (d / "mesh.ply").write_bytes(mesh.export(file_type="ply"))
        files["mesh"] = ("mesh.glb", d / "mesh.glb", ("data",), GLB_MEDIA_TYPE, "mesh (glTF binary)")
        files["mesh_ply"] = ("mesh.ply", d / "mesh.ply", ("data",), PLY_MEDIA_TYPE, "mesh (PLY)")
        shade = np.nan_to_num(255 * (1 - scene.range / np.nanmax(scene.range))).astype(np.uint8)
        rgb = np.repeat(shade[..., None], 3, axis=2)
        files["overview"] = ("preview.png", _png(rgb), ("overview",), "image/png", "preview")
        files["thumbnail"] = ("thumbnail.png", _png(rgb[::4, ::4]), ("thumbnail",), "image/png", "thumbnail")
        return publish_files(files, kind="stereo", name=name, sol=sol, instrument=instrument, store=store,
                             catalog=catalog, provenance=_provenance(instrument, "synthetic stereo products"),
                             start_time=_dt.datetime(2021, 5, 30, 11, 0, tzinfo=_dt.timezone.utc))


def publish_terrain_output(store: "Store", catalog: "Catalog", *, sol: int, name: str,
                           instrument: str = "SYNCAM") -> Any:
    """Publish an output of kind ``"terrain"``: ``dem.tif`` (float32 heights up, metres, of
    :func:`analytic_mesh`'s hill on a 0.1 m grid, NaN outside a disc), ``mesh.glb``,
    ``mesh.ply``.

    Returns
    -------
    rovercam.publish.PublishedProduct
    """
    from rovercam.publish import COG_MEDIA_TYPE, publish_files

    mesh = analytic_mesh()
    s = np.arange(-20, 20) * 0.1
    gx, gy = np.meshgrid(s, s, indexing="ij")
    heights = (0.8 * np.exp(-(gx**2 + gy**2) / (2 * (4.0 / 6) ** 2))).astype(np.float32)
    heights[gx**2 + gy**2 > 1.9**2] = np.nan
    with tempfile.TemporaryDirectory(prefix="terrain-fixture-") as tmp:
        d = Path(tmp)
        dem = write_float_cog(d / "dem.tif", heights, names=["HEIGHT"], units=["m"],
                              tags={"frame": "SITE_FRAME", "mipl_product": "DEM"})
        (d / "mesh.glb").write_bytes(mesh.export(file_type="glb"))
        (d / "mesh.ply").write_bytes(mesh.export(file_type="ply"))
        files = {
            "dem": ("dem.tif", dem, ("data",), COG_MEDIA_TYPE, "heights"),
            "mesh": ("mesh.glb", d / "mesh.glb", ("data",), GLB_MEDIA_TYPE, "mesh (glTF binary)"),
            "mesh_ply": ("mesh.ply", d / "mesh.ply", ("data",), PLY_MEDIA_TYPE, "mesh (PLY)"),
        }
        return publish_files(files, kind="terrain", name=name, sol=sol, instrument=instrument, store=store,
                             catalog=catalog, provenance=_provenance(instrument, "synthetic terrain"),
                             start_time=_dt.datetime(2021, 5, 30, 12, 0, tzinfo=_dt.timezone.utc))
