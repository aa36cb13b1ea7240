"""Raster encoders: Cloud-Optimized GeoTIFF (rasterio/GDAL COG driver), PNG, thumbnails.

Rover-frame products (panoramas in SITE_FRAME, camera-frame images) have no CRS: no standard
coordinate reference system describes directions seen from a rover. Cylindrical and
equirectangular mosaics get a geotransform in degrees of azimuth and elevation without a CRS
(``transform`` alone; docs/conventions.md#mosaic-georeferencing); other rover-frame products
carry their projection in tags only (``PolarProjection.to_tags``) and store the identity
transform explicitly (pixel coordinates), as do tiled GeoTIFFs written window by window
(:func:`open_tiled_geotiff`, the out-of-core mosaic render): rasterio then warns
(``NotGeoreferencedWarning``) neither when they are written nor when they are read.

Encoders are deterministic: the same array and tags give the same bytes, which is what makes
content-hash idempotent publishing (:meth:`rovercam.storage.Store.publish`) work.
"""
from __future__ import annotations

import os
import struct
import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from rovercam.bands import as_bands

__all__ = ["write_cog", "write_png", "thumbnail", "open_tiled_geotiff", "COG_BLOCKSIZE"]

#: Internal tile size of every COG (pixels); also the size below which no overview is made.
COG_BLOCKSIZE = 512

# Rover-frame products without an az/el grid are deliberately not georeferenced (their projection
# lives in tags), so they are written with the identity transform, and rasterio warns on that
# write that GDAL *may* drop it; the drivers store it, which is what keeps readers from warning.
# The writers below silence it locally (``warnings.catch_warnings``), but that context manager is
# not thread-safe: products are written from worker threads, where one thread leaving it restores
# the filters under another's write. So the same filter is also set once for the process.
_IDENTITY_WARNING = "The given matrix is equal to Affine.identity"
warnings.filterwarnings("ignore", message=_IDENTITY_WARNING, category=NotGeoreferencedWarning)


def _validate_image(image: NDArray[Any]) -> NDArray[Any]:
    image = as_bands(image)
    if image.shape[0] == 0 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"image must be (H, W) or (H, W, B), got shape {image.shape}")
    if image.dtype not in (np.float32, np.uint8):
        raise TypeError(f"image dtype must be float32 or uint8, got {image.dtype}")
    return image


def write_cog(
    dest: str | os.PathLike[str] | IO[bytes] | None,
    image: NDArray[np.float32] | NDArray[np.uint8],
    *,
    nodata_mask: NDArray[np.bool_] | None = None,
    tags: Mapping[str, str] | None = None,
    band_descriptions: Sequence[str] | None = None,
    units: str | None = None,
    crs: Any = None,
    transform: Any = None,
) -> bytes | Path:
    """Encode an image as a Cloud-Optimized GeoTIFF.

    Layout: internal 512 x 512 tiles, DEFLATE with the predictor suited to the dtype (2 for
    integers, 3 for floats), overviews (averaged) halving until the image fits one tile,
    pixel interleaved.

    Parameters
    ----------
    dest : path, binary file object or None
        Where to write. None returns the bytes.
    image : (H, W) or (H, W, B) ndarray of float32 or uint8
        float32 (radiance): NaN is the nodata value. uint8: invalid pixels go to an extra alpha
        band (0 = no data, 255 = valid) when ``nodata_mask`` is given.
    nodata_mask : (H, W) ndarray of bool, optional
        True where there is no data. float32 pixels there are written as NaN.
    tags : mapping of str -> str, optional
        Dataset metadata (projection parameters, provenance JSON, ...).
    band_descriptions : sequence of str, optional
        One per band of ``image`` (``("R", "G", "B")``).
    units : str, optional
        Unit of every data band (``"W m-2 sr-1 nm-1"``).
    crs : optional
        CRS of map-projected products (EDL orthomosaics); needs ``transform``. None for
        rover-frame products.
    transform : affine.Affine, optional
        GDAL geotransform (pixel-edge column, row -> x, y). With ``crs``: map coordinates. Alone:
        the rover-frame angles of an az/el grid, degrees (``CylindricalProjection.geotransform``).
        None: the identity (pixel coordinates), stored explicitly so that readers do not warn.

    Returns
    -------
    bytes or Path
        The encoded file when ``dest`` is None or a file object, else ``Path(dest)``.

    Raises
    ------
    ValueError, TypeError
        Bad shape/dtype, mask shape mismatch, wrong number of band descriptions, a ``crs``
        without a ``transform``.
    """
    image = _validate_image(image)
    h, w, nb = image.shape
    if nodata_mask is not None:
        nodata_mask = np.asarray(nodata_mask, dtype=bool)
        if nodata_mask.shape != (h, w):
            raise ValueError(f"nodata_mask shape {nodata_mask.shape} != image (H, W) {(h, w)}")
    if band_descriptions is not None and len(band_descriptions) != nb:
        raise ValueError(f"{len(band_descriptions)} band descriptions for {nb} bands")
    if crs is not None and transform is None:
        raise ValueError("a crs needs a transform (give transform alone for a rover-frame az/el grid)")
    for k, v in (tags or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"tags must map str -> str, got {k!r}: {type(v).__name__}")

    is_float = image.dtype == np.float32
    bands = np.moveaxis(image, 2, 0)  # (B, H, W) for rasterio
    alpha = None
    if is_float:
        if nodata_mask is not None:
            bands = np.where(nodata_mask[None], np.float32(np.nan), bands)
    elif nodata_mask is not None:
        alpha = np.where(nodata_mask, 0, 255).astype(np.uint8)
    count = nb + (alpha is not None)

    profile: dict[str, Any] = dict(
        driver="COG",
        width=w,
        height=h,
        count=count,
        dtype=image.dtype.name,
        BLOCKSIZE=COG_BLOCKSIZE,
        COMPRESS="DEFLATE",
        PREDICTOR="YES",
        OVERVIEWS="AUTO",
        OVERVIEW_RESAMPLING="AVERAGE",
    )
    if is_float:
        profile["nodata"] = float("nan")
    if crs is not None:
        profile["crs"] = crs
    profile["transform"] = Affine.identity() if transform is None else transform

    def _fill(dst: Any) -> None:
        dst.write(bands, list(range(1, nb + 1)))
        if alpha is not None:
            dst.write(alpha, nb + 1)
        interp = [ColorInterp.gray] * nb
        if nb >= 3:
            interp[:3] = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        if alpha is not None:
            interp.append(ColorInterp.alpha)
        dst.colorinterp = interp
        for i, desc in enumerate(band_descriptions or (), start=1):
            dst.set_band_description(i, desc)
        if units:
            for i in range(1, nb + 1):
                dst.set_band_unit(i, units)
        if tags:
            dst.update_tags(**dict(tags))

    with warnings.catch_warnings():
        # Rover-frame products without an az/el grid are deliberately not georeferenced (their
        # projection lives in tags): rasterio warns that GDAL *may* drop the identity transform
        # given for them; the GeoTIFF stores it (ModelPixelScale and ModelTiepoint), which is
        # what keeps readers from warning
        warnings.filterwarnings("ignore", message=_IDENTITY_WARNING, category=NotGeoreferencedWarning)
        if dest is None or hasattr(dest, "write"):
            with MemoryFile() as mem:
                with mem.open(**profile) as dst:
                    _fill(dst)
                data = mem.read()
            if dest is not None:
                dest.write(data)  # type: ignore[union-attr]
            return data
        path = Path(dest)
        with rasterio.open(path, "w", **profile) as dst:
            _fill(dst)
        return path


@contextmanager
def open_tiled_geotiff(
    path: str | os.PathLike[str],
    *,
    width: int,
    height: int,
    count: int,
    dtype: str,
    nodata: float | int,
    block: int = 512,
    compress: str | None = "zstd",
    transform: Any = None,
    tags: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Open a tiled, sparse BigTIFF for writing window by window (``dst.write(a, window=w)``).

    Blocks never written stay unallocated and read back as ``nodata`` (GDAL ``SPARSE_OK``), so
    a sparse output costs only what is covered.

    Parameters
    ----------
    path : path
        The file to create (replaced if it exists).
    width, height, count : int
        Pixels and bands.
    dtype : str
        ``"float32"``, ``"int16"``... (rasterio names).
    nodata : float or int
        The no-data value (NaN for float radiance, -1 for index maps), in the file's metadata.
    block : int
        Internal tile side, pixels (a multiple of 16).
    compress : str or None
        GDAL compression (``"zstd"``, ``"deflate"``) or None.
    transform : affine.Affine, optional
        GDAL geotransform (an az/el grid's degrees, docs/conventions.md#mosaic-georeferencing).
        None stores the identity transform explicitly: pixel coordinates, and no rasterio
        ``NotGeoreferencedWarning`` when the file is written or read.
    tags : mapping of str -> str, optional
        Dataset tags (the projection's, provenance...), written before any pixel.

    Yields
    ------
    rasterio.io.DatasetWriter
        Closed (and the file complete) on leaving the ``with``.
    """
    for k, v in (tags or {}).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"tags must map str -> str, got {k!r}: {type(v).__name__}")
    if block % 16 or block < 16:
        raise ValueError(f"block must be a positive multiple of 16, got {block}")
    profile: dict[str, Any] = dict(driver="GTiff", width=width, height=height, count=count, dtype=dtype,
                                   nodata=nodata, tiled=True, blockxsize=block, blockysize=block,
                                   BIGTIFF="YES", SPARSE_OK="TRUE",
                                   transform=Affine.identity() if transform is None else transform)
    if compress:
        profile["compress"] = compress
    with warnings.catch_warnings():
        # rasterio warns that GDAL *may* drop an identity transform; the GTiff driver stores it
        # (ModelTransformationTag), which is what keeps readers from warning
        warnings.filterwarnings("ignore", message=_IDENTITY_WARNING, category=NotGeoreferencedWarning)
        dst = rasterio.open(path, "w", **profile)
    try:
        if tags:
            dst.update_tags(**dict(tags))
        yield dst
    finally:
        dst.close()


def _to_bgr(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if rgb.shape[2] == 1:
        return rgb[:, :, 0]
    if rgb.shape[2] == 3:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_gray_alpha(la: NDArray[np.uint8]) -> bytes:
    """An 8-bit gray + alpha PNG (colour type 4), which OpenCV's encoder cannot write.

    Every row uses the PNG "Up" filter (W3C PNG specification, section 9.2): smooth previews
    compress about as well as with adaptive filtering, and the bytes are deterministic.
    """
    h, w = la.shape[:2]
    rows = la.reshape(h, w * 2)
    up = np.empty((h, w * 2 + 1), np.uint8)
    up[:, 0] = 2  # filter type Up
    up[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=up[1:, 1:], dtype=np.uint8, casting="unsafe")
    header = struct.pack(">IIBBBBB", w, h, 8, 4, 0, 0, 0)  # 8 bits, gray + alpha, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(up.tobytes(), 6)) + _png_chunk(b"IEND", b""))


def write_png(rgb: NDArray[np.uint8], *, alpha: NDArray[Any] | None = None) -> bytes:
    """Encode an 8-bit image as PNG bytes: grayscale, gray + alpha, RGB or RGBA.

    Parameters
    ----------
    rgb : (H, W), (H, W, 1), (H, W, 2), (H, W, 3) or (H, W, 4) ndarray of uint8
        Display values: gray (, alpha), or R, G, B (, A). OpenCV's BGR order is handled here.
    alpha : (H, W) ndarray of bool or uint8, optional
        Opacity: bool True = opaque, or uint8 0..255. Not allowed when ``rgb`` has an alpha
        channel already (2 or 4 channels).

    Returns
    -------
    bytes
        The PNG file, 8 bits per channel, colour type gray (0), gray + alpha (4), RGB (2) or
        RGBA (6) after the channels given.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim not in (2, 3) or as_bands(rgb).shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"rgb must be (H, W) or (H, W, 1|2|3|4) uint8, got {rgb.shape} {rgb.dtype}")
    rgb = as_bands(rgb)
    if alpha is not None:
        if rgb.shape[2] in (2, 4):
            raise ValueError("rgb already has an alpha channel; do not pass alpha too")
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha shape {alpha.shape} != image (H, W) {rgb.shape[:2]}")
        if alpha.dtype == bool:
            alpha = np.where(alpha, 255, 0).astype(np.uint8)
        elif alpha.dtype != np.uint8:
            raise TypeError(f"alpha must be bool or uint8, got {alpha.dtype}")
        rgb = np.dstack([rgb, alpha])
    if rgb.shape[2] == 2:
        return _png_gray_alpha(np.ascontiguousarray(rgb))
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(_to_bgr(np.ascontiguousarray(rgb))),
                           [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as PNG")
    return buf.tobytes()


def thumbnail(rgb: NDArray[np.uint8], *, max_side: int = 512) -> NDArray[np.uint8]:
    """Shrink an image so its longer side is at most ``max_side`` pixels (area averaging).

    Parameters
    ----------
    rgb : (H, W) or (H, W, C) ndarray of uint8
        C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA); returned with the same shape
        convention and channel count.
    max_side : int
        Longest side of the result, in pixels. Images already small enough are copied as is.

    Returns
    -------
    (h, w) or (h, w, C) ndarray of uint8
        ``h = round(H * s)``, ``w = round(W * s)`` with ``s = max_side / max(H, W)``, each >= 1.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim not in (2, 3) or as_bands(rgb).shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"rgb must be (H, W) or (H, W, 1|2|3|4) uint8, got {rgb.shape} {rgb.dtype}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return rgb.copy()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # OpenCV takes (width, height)
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return small if rgb.ndim == 2 else small.reshape(size[1], size[0], rgb.shape[2])
