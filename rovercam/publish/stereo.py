"""Publish stereo and terrain outputs (kinds ``"stereo"`` and ``"terrain"``) through
:func:`rovercam.publish.core.publish_files`.

One ``"stereo"`` output per pair, ``sol<sol:05d>/stereos/<name>/v<N>/`` (docs/stereo.md#pipeline):

========================  ======================================================================
``xyz.tif``               float32 COG, bands X, Y, Z, metres in the products' frame (SITE_FRAME)
``range.tif``             float32 COG, metres from the left camera centre
``normals.tif``           float32 COG, bands NX, NY, NZ, unit vector components in the frame
``range_sigma.tif``       float32 COG, one-sigma range uncertainty, metres
``mesh.glb``, ``mesh.ply``  the pair's mesh (when one is given)
``preview.png``           the range, colourized (near blue, far red), alpha = valid
``thumbnail.png``         the preview, at most ``thumbnail_side`` pixels
========================  ======================================================================

One ``"terrain"`` output per site and drive, ``sol<sol:05d>/terrains/<name>/v<N>/``: ``dem.tif``
(float32 heights up, metres, with the DEM's grid as geotransform), ``mesh.glb``, ``mesh.ply`` and
``thumbnail.png``.

Every COG is written with NaN as nodata, a per-band ``name`` and ``units`` tag, and the dataset
tags ``frame`` and ``mipl_product`` (:data:`MIPL_PRODUCTS`). The products live on the rectified
left eye's pixel grid, which has no CRS: the COGs store the identity transform explicitly, so
reading them gives no rasterio ``NotGeoreferencedWarning``.
"""
from __future__ import annotations

import datetime as _dt
import json
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pystac

from rovercam.catalog.db import Catalog
from rovercam.catalog.stac import raster_bands
from rovercam.errors import RovercamError
from rovercam.provenance import Provenance
from rovercam.publish.core import COG_MEDIA_TYPE, PublishedProduct, check_name, publish_files
from rovercam.storage.raster import COG_BLOCKSIZE, thumbnail, write_png
from rovercam.storage.store import Store

if TYPE_CHECKING:
    from rovercam.stereo.products import StereoProducts
    from rovercam.terrain.dem import DEM
    from rovercam.terrain.mesh import Mesh

__all__ = ["publish_stereo", "publish_terrain", "write_stereo_files", "float_cog", "dem_transform",
           "GLTF_MEDIA_TYPE", "PLY_MEDIA_TYPE", "MIPL_PRODUCTS", "STEREO_FILES", "TERRAIN_FILES"]

#: Media type of binary glTF (IANA ``model/gltf-binary``).
GLTF_MEDIA_TYPE = "model/gltf-binary"
#: Media type of PLY meshes.
PLY_MEDIA_TYPE = "application/x-ply"
#: The MIPL RDR each COG corresponds to (Mars 2020 camera SIS; docs/stereo.md maps them).
MIPL_PRODUCTS = {"xyz": "XYZ", "range": "RNG", "normals": "UVW", "range_sigma": "none"}  # no MIPL RDR type (docs/stereo.md)
#: File names of a stereo output, by STAC asset key.
STEREO_FILES = {"xyz": "xyz.tif", "range": "range.tif", "normals": "normals.tif", "range_sigma": "range_sigma.tif",
                "mesh_glb": "mesh.glb", "mesh_ply": "mesh.ply", "overview": "preview.png",
                "thumbnail": "thumbnail.png"}
#: File names of a terrain output, by STAC asset key.
TERRAIN_FILES = {"dem": "dem.tif", "mesh_glb": "mesh.glb", "mesh_ply": "mesh.ply", "thumbnail": "thumbnail.png"}

_BANDS = {"xyz": (("X", "Y", "Z"), "m"), "range": (("RANGE",), "m"), "normals": (("NX", "NY", "NZ"), "1"),
          "range_sigma": (("RANGE_SIGMA",), "m")}
_TITLES = {"xyz": "XYZ, metres", "range": "Range from the left camera, metres",
           "normals": "Surface normals (unit vectors)", "range_sigma": "Range uncertainty (1 sigma), metres"}


def float_cog(image: np.ndarray, *, names: Sequence[str], units: str, tags: Mapping[str, str],
              transform: Any = None) -> bytes:
    """Encode a float32 image as a COG with NaN nodata and per-band ``name``/``units`` tags.

    Parameters
    ----------
    image : (H, W) or (H, W, B) array_like of float
        Cast to float32; NaN = no data.
    names : sequence of str
        One band name per band (also the band description).
    units : str
        Unit of every band (``"m"``, ``"1"``).
    tags : mapping of str -> str
        Dataset tags (``frame``, ``mipl_product``...).
    transform : affine.Affine, optional
        Geotransform; None stores the identity (pixel coordinates) explicitly.

    Returns
    -------
    bytes
        Deterministic: the same array and tags give the same bytes.
    """
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    a = np.asarray(image, dtype=np.float32)
    a = a[..., None] if a.ndim == 2 else a
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"image must be (H, W) or (H, W, B), got shape {a.shape}")
    if len(names) != a.shape[2]:
        raise ValueError(f"{len(names)} band names for {a.shape[2]} bands")
    h, w, nb = a.shape
    profile = dict(driver="COG", width=w, height=h, count=nb, dtype="float32", nodata=float("nan"),
                   BLOCKSIZE=COG_BLOCKSIZE, COMPRESS="DEFLATE", PREDICTOR="YES", OVERVIEWS="AUTO",
                   OVERVIEW_RESAMPLING="AVERAGE", transform=Affine.identity() if transform is None else transform)
    with warnings.catch_warnings():
        # rasterio warns that GDAL may drop an identity transform; the COG driver stores it
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as mem:
            with mem.open(**profile) as dst:
                dst.write(np.ascontiguousarray(np.moveaxis(a, 2, 0)))
                for i, name in enumerate(names, start=1):
                    dst.set_band_description(i, name)
                    dst.set_band_unit(i, units)
                    dst.update_tags(i, name=name, units=units)
                dst.update_tags(**dict(tags))
            return bytes(mem.read())


def _colorized(values: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 RGBA of a scalar image: turbo colours from the 2nd to the 98th percentile of
    its finite values (near blue, far red), alpha 0 where not finite."""
    import cv2

    finite = np.isfinite(values)
    out = np.zeros((*values.shape, 4), np.uint8)
    if not finite.any():
        return out
    lo, hi = np.percentile(values[finite], [2, 98])
    scaled = np.clip((np.nan_to_num(values, nan=lo) - lo) / max(float(hi - lo), 1e-9), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255 + 0.5).astype(np.uint8), cv2.COLORMAP_TURBO)
    out[..., :3] = bgr[..., ::-1]
    out[..., 3] = np.where(finite, 255, 0)
    return out


def _mesh_files(mesh: "Mesh", folder: Path) -> dict[str, tuple[Any, ...]]:
    """The mesh as glTF binary and PLY files in ``folder`` (publish_files entries)."""
    from rovercam.terrain.meshfile import write_glb, write_ply

    glb, ply = folder / STEREO_FILES["mesh_glb"], folder / STEREO_FILES["mesh_ply"]
    write_glb(mesh, glb)
    write_ply(mesh, ply)
    fields = {"rovercam:vertices": int(len(mesh.vertices)), "rovercam:faces": int(len(mesh.faces)),
              "rovercam:frame": mesh.frame}
    return {"mesh_glb": (glb.name, glb, ["data"], GLTF_MEDIA_TYPE, "Mesh (glTF binary)", fields),
            "mesh_ply": (ply.name, ply, ["data"], PLY_MEDIA_TYPE, "Mesh (PLY)", fields)}


def _cogs(products: "StereoProducts") -> dict[str, tuple[np.ndarray, bytes]]:
    """Asset key -> (image, COG bytes) of the four product images."""
    out = {}
    for key, (names, units) in _BANDS.items():
        image = np.asarray(getattr(products, key), np.float32)
        tags = {"frame": products.frame, "mipl_product": MIPL_PRODUCTS[key]}
        out[key] = image, float_cog(image, names=names, units=units, tags=tags)
    return out


def write_stereo_files(products: "StereoProducts", folder: str | Path, *, mesh: "Mesh | None" = None
                       ) -> dict[str, Path]:
    """Write a pair's files to a local folder, as a published ``"stereo"`` output holds them
    (module docstring; no thumbnail, no STAC item): ``rovercam stereo``.

    Returns
    -------
    dict of str -> Path
        Asset key -> file written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _check_products(products)
    out = {}
    for key, (_, blob) in _cogs(products).items():
        out[key] = folder / STEREO_FILES[key]
        out[key].write_bytes(blob)
    out["overview"] = folder / STEREO_FILES["overview"]
    out["overview"].write_bytes(write_png(_colorized(np.asarray(products.range, np.float32))))
    if mesh is not None:
        out.update({k: v[1] for k, v in _mesh_files(mesh, folder).items()})
    return out


def _check_products(products: "StereoProducts") -> tuple[int, int]:
    h, w = products.range.shape
    for key, bands in (("xyz", 3), ("normals", 3)):
        a = getattr(products, key)
        if a.shape != (h, w, bands):
            raise RovercamError(f"stereo products: {key} is {a.shape}, expected {(h, w, bands)}")
    if products.range_sigma.shape != (h, w):
        raise RovercamError(f"stereo products: range_sigma is {products.range_sigma.shape}, expected {(h, w)}")
    return h, w


def publish_stereo(
    products: "StereoProducts",
    *,
    name: str,
    sol: int,
    store: Store,
    catalog: Catalog,
    left: tuple[str, str],
    right: tuple[str, str],
    instrument: str,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    mesh: "Mesh | None" = None,
    provenance: Provenance | None = None,
    properties: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    thumbnail_side: int = 512,
) -> PublishedProduct:
    """Publish one pair's stereo products (kind ``"stereo"``; files in the module docstring).

    Parameters
    ----------
    products : rovercam.stereo.StereoProducts
        ``xyz`` (H, W, 3), ``range`` (H, W), ``normals`` (H, W, 3), ``range_sigma`` (H, W);
        float, NaN where invalid, in ``products.frame``.
    name : str
        Plain file name of the output (:func:`rovercam.layout.stereo_name`).
    sol : int
    store, catalog
        Where the files and the output row go.
    left, right : (product id, sha256)
        The two eyes: the output's lineage.
    instrument : str
        ``"NAVCAM_LEFT+NAVCAM_RIGHT"``.
    start_time, stop_time : datetime
        The eyes' earliest and latest start (UTC if naive).
    mesh : rovercam.terrain.Mesh, optional
        The pair's mesh, written as ``mesh.glb`` and ``mesh.ply``.
    provenance : Provenance, optional
        The eyes' merged provenance (steps, calibration, software); its inputs are replaced by
        ``left`` and ``right``.
    properties : mapping, optional
        More STAC properties (JSON-ready): the pair's facts.
    run_id, mission
        As :func:`rovercam.publish.core.publish_output`.
    thumbnail_side : int
        Longest side of the thumbnail, pixels.

    Returns
    -------
    PublishedProduct
        ``reused=True`` when the same bytes were already the latest version.

    Raises
    ------
    RovercamError
        A bad name, or product images of the wrong shapes. Nothing is published.
    StorageError, CatalogError
        Writing failed; nothing partial is visible (:mod:`rovercam.publish.core`).
    """
    check_name(name)
    _check_products(products)
    files: dict[str, tuple[Any, ...]] = {}
    for key, (image, blob) in _cogs(products).items():
        fields = {"raster:bands": raster_bands(image, unit=_BANDS[key][1]), "proj:code": None,
                  "proj:shape": [int(image.shape[0]), int(image.shape[1])]}
        files[key] = (STEREO_FILES[key], blob, ["data"], COG_MEDIA_TYPE, _TITLES[key], fields)
    preview = _colorized(np.asarray(products.range, np.float32))
    files["overview"] = (STEREO_FILES["overview"], write_png(preview), ["overview"], pystac.MediaType.PNG,
                         "Range, colourized (near blue, far red)")
    files["thumbnail"] = (STEREO_FILES["thumbnail"], write_png(thumbnail(preview, max_side=thumbnail_side)),
                          ["thumbnail"], pystac.MediaType.PNG, "Thumbnail")
    base = provenance or Provenance()
    prov = Provenance(inputs={left[0]: left[1], right[0]: right[1]}, calibration=base.calibration,
                      steps=[*base.steps, "stereo: disparity, triangulation, range, normals"],
                      software_version=base.software_version, config_hash=base.config_hash)
    valid = np.isfinite(np.asarray(products.xyz)).all(axis=2)
    props = {"rovercam:frame": products.frame, "rovercam:left": left[0], "rovercam:right": right[0],
             "rovercam:valid_fraction": round(float(valid.mean()), 4),
             "rovercam:left_model": json.loads(json.dumps(products.left_model.to_pds3(), default=float)),
             **(properties or {})}
    with tempfile.TemporaryDirectory(prefix="rovercam-stereo-") as tmp:
        if mesh is not None:
            files.update(_mesh_files(mesh, Path(tmp)))
        return publish_files(files, kind="stereo", name=name, sol=sol, instrument=instrument, store=store,
                             catalog=catalog, provenance=prov, start_time=start_time, stop_time=stop_time,
                             properties=props, run_id=run_id, mission=mission, units="m")


def dem_transform(dem: "DEM") -> Any:
    """The DEM's geotransform: column -> east (site +y), row -> north (site +x), metres at cell
    edges (cell ``[i, j]``'s centre is ``origin + (i, j) * cell_m``, docs/conventions.md)."""
    from affine import Affine

    c = float(dem.cell_m)
    return Affine(c, 0.0, float(dem.origin[1]) - c / 2, 0.0, c, float(dem.origin[0]) - c / 2)


def publish_terrain(
    dem: "DEM",
    mesh: "Mesh",
    *,
    name: str,
    sol: int,
    store: Store,
    catalog: Catalog,
    inputs: Mapping[str, str],
    instrument: str,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    provenance: Provenance | None = None,
    properties: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
    thumbnail_side: int = 512,
) -> PublishedProduct:
    """Publish the merged terrain of one site and drive (kind ``"terrain"``): ``dem.tif``,
    ``mesh.glb``, ``mesh.ply``, ``thumbnail.png``.

    Parameters
    ----------
    dem : rovercam.terrain.DEM
        Heights up (metres, NaN unknown) on its grid in ``dem.frame``.
    mesh : rovercam.terrain.Mesh
        The terrain's mesh (from the DEM).
    name : str
        Plain file name (:func:`rovercam.layout.terrain_name`).
    inputs : mapping of str -> str
        Lineage: every eye's product id -> sha256.
    instrument : str
        The cameras, joined with ``+``.
    sol, store, catalog, start_time, stop_time, provenance, properties, run_id, mission, thumbnail_side
        As :func:`publish_stereo`.

    Returns
    -------
    PublishedProduct
    """
    check_name(name)
    heights = np.asarray(dem.heights, np.float32)
    if heights.ndim != 2 or 0 in heights.shape:
        raise RovercamError(f"{name}: DEM heights must be a non-empty (rows, cols) grid, got {heights.shape}")
    tags = {"frame": dem.frame, "mipl_product": "DEM", "cell_m": repr(float(dem.cell_m)),
            "origin": json.dumps([float(v) for v in dem.origin]),
            "axes": "rows along +x (north), columns along +y (east); heights up (z = -height)"}
    transform = dem_transform(dem)
    fields = {"raster:bands": raster_bands(heights, unit="m"), "proj:code": None,
              "proj:shape": [int(heights.shape[0]), int(heights.shape[1])],
              "proj:transform": [float(v) for v in tuple(transform)[:6]]}
    files: dict[str, tuple[Any, ...]] = {
        "dem": (TERRAIN_FILES["dem"], float_cog(heights, names=("HEIGHT",), units="m", tags=tags, transform=transform),
                ["data"], COG_MEDIA_TYPE, "Heights up, metres", fields),
    }
    shaded = _colorized(heights)[::-1]  # north up
    files["thumbnail"] = (TERRAIN_FILES["thumbnail"], write_png(thumbnail(shaded, max_side=thumbnail_side)),
                          ["thumbnail"], pystac.MediaType.PNG, "Heights, colourized (low blue, high red), north up")
    base = provenance or Provenance()
    prov = Provenance(inputs=dict(inputs), calibration=base.calibration,
                      steps=[*base.steps, "terrain: merged DEM and mesh"],
                      software_version=base.software_version, config_hash=base.config_hash)
    props = {"rovercam:frame": dem.frame, "rovercam:cell_m": float(dem.cell_m),
             "rovercam:origin": [float(v) for v in dem.origin], **(properties or {})}
    with tempfile.TemporaryDirectory(prefix="rovercam-terrain-") as tmp:
        files.update(_mesh_files(mesh, Path(tmp)))
        return publish_files(files, kind="terrain", name=name, sol=sol, instrument=instrument, store=store,
                             catalog=catalog, provenance=prov, start_time=start_time, stop_time=stop_time,
                             properties=props, run_id=run_id, mission=mission, units="m")
