"""Raw-image-site products: a PNG or JPEG with a ``<stem>-metadata.json`` sidecar.

The public Mars 2020 raw-image site serves each image with metadata from its API
(docs/products.md#raw-image-site-sidecars). The sidecar keys used here:

==============================  ==================================================================
``imageid``                     product id without its 2-character version; the file stem wins
``instrument``, ``sol``         INSTRUMENT_ID and sol
``site``, ``drive``             rover motion counter
``date_taken_utc``              start time (UTC)
``camera_model_type``           CAHV / CAHVOR / CAHVORE
``camera_model_component_list`` ``"(C);(A);(H);(V);(O);(R);(E);type;parameter"``
``subframe_rect``               (first_sample, first_line, samples, lines), 1-based full-resolution
                                detector pixels: (2545, 1, 2576, 1936) at scale factor 2 is a
                                1288x968 image (docs/cameras.md, ECAM)
``scale_factor``                downsampling, the same on both axes
``mast_az``, ``mast_el``        kept in ``label`` only
==============================  ==================================================================

What the site publishes for ECAM ECM products (docs/products.md): 8-bit companded codes (LUT2),
Bayer decoded onboard (Malvar, RGGB), so the Product says companded/LUT2 and CFA decoded/ONBOARD.
The sidecar ``sclk`` is not the product id's start SCLK; the id's value is used, as PDS labels do.
Pixel dimensions are read from the PNG/JPEG header and checked against the limits before the decoder
allocates anything.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.errors import (
    CameraModelError,
    DataSizeError,
    LabelContentError,
    LabelSyntaxError,
    ProductError,
    ProductTooLargeError,
    UnsupportedProductError,
)
from rovercam.products.model import CFA, Companding, Product, ProductMeta, Subframe
from rovercam.products.naming import parse_product_id
from rovercam.products.raster import Limits
from rovercam.camera import from_pds3


__all__ = ["read_rawsite", "sidecar_for", "image_for", "SIDECAR_SUFFIX", "image_header"]

log = logging.getLogger(__name__)

SIDECAR_SUFFIX = "-metadata.json"
MAX_SIDECAR_BYTES = 1024**2
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_ECAM = ("NAVCAM", "FRONT_HAZCAM", "REAR_HAZCAM", "CACHECAM")
_N_COMPONENTS = {"CAHV": 4, "CAHVOR": 6, "CAHVORE": 9}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def sidecar_for(image: Path) -> Path:
    """The sidecar path of an image: ``X.png`` -> ``X-metadata.json``."""
    return image.with_name(image.name.rsplit(".", 1)[0] + SIDECAR_SUFFIX)


def image_for(sidecar: Path, *, source: str) -> Path:
    """The PNG/JPEG beside a sidecar (name matched case-insensitively, in the same folder)."""
    from rovercam.products.pds3 import find_in_folder

    stem = sidecar.name[: -len(SIDECAR_SUFFIX)]
    for suffix in _IMAGE_SUFFIXES:
        try:
            return find_in_folder(sidecar.parent, stem + suffix, source=source)
        except LabelContentError:
            raise
        except ProductError:
            continue
    raise ProductError(source, f"no image {stem}.png/.jpg next to the sidecar")


def image_header(head: bytes, *, source: str) -> tuple[int, int, int, int]:
    """(lines, samples, channels, bytes per sample) from a PNG or JPEG header.

    Raises
    ------
    rovercam.errors.UnsupportedProductError
        Neither PNG nor JPEG.
    rovercam.errors.LabelContentError
        A header without a readable size.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(head) < 33 or head[12:16] != b"IHDR":
            raise LabelContentError(source, "PNG without an IHDR chunk")
        width, height, depth, color = struct.unpack(">IIBB", head[16:26])
        if color not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
            raise LabelContentError(source, f"PNG colour type {color}, bit depth {depth}")
        return height, width, _PNG_CHANNELS[color], 2 if depth == 16 else 1
    if head.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 4 <= len(head):
            if head[pos] != 0xFF:
                raise LabelContentError(source, f"JPEG marker expected at byte {pos}")
            marker = head[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                pos += 1 if marker == 0xFF else 2
                continue
            (length,) = struct.unpack(">H", head[pos + 2:pos + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if pos + 10 > len(head):
                    break
                height, width, channels = struct.unpack(">HHB", head[pos + 5:pos + 10])
                return height, width, channels, 1
            if length < 2:
                raise LabelContentError(source, "JPEG segment of length < 2")
            pos += 2 + length
        raise LabelContentError(source, "JPEG without a frame header in its first bytes")
    raise UnsupportedProductError(source, "not a PNG or JPEG image")


def _decode(path: Path, limits: Limits, *, source: str) -> np.ndarray:
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ProductTooLargeError(source, f"image file of {size} bytes exceeds the limit")
    data = path.read_bytes()
    lines, samples, channels, itemsize = image_header(data[:65536], source=source)
    if lines < 1 or samples < 1 or channels < 1:
        raise LabelContentError(source, f"image header declares {samples}x{lines}x{channels}")
    if lines > limits.max_lines or samples > limits.max_samples or channels > limits.max_bands \
            or lines * samples * channels * itemsize > limits.max_bytes:
        raise ProductTooLargeError(source, f"image header declares {lines} lines x {samples} "
                                           f"samples x {channels} channels, beyond the limits")
    import cv2  # deferred: only this format needs the codec

    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise DataSizeError(source, f"cannot decode the image: {exc}") from None
    if image is None:
        raise DataSizeError(source, "cannot decode the image (truncated or corrupt)")
    if image.shape[:2] != (lines, samples):
        raise DataSizeError(source, f"decoded {image.shape[:2]}, header says {(lines, samples)}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = np.ascontiguousarray(image[:, :, ::-1])  # OpenCV decodes BGR; keep RGB order
    elif image.ndim == 3 and image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, [2, 1, 0, 3]])
    return image


def _vector(text: str, *, source: str) -> Any:
    text = text.strip()
    try:
        if text.startswith("(") and text.endswith(")"):
            return tuple(float(v) for v in text[1:-1].split(","))
        return float(text)
    except ValueError:
        raise LabelContentError(source, f"camera model component {text[:40]!r} is not "
                                        f"numeric") from None


def _camera(meta: dict[str, Any], *, source: str) -> Any:
    kind = meta.get("camera_model_type")
    components = meta.get("camera_model_component_list")
    if kind is None or components in (None, "", "UNK"):
        return None
    kind = str(kind).strip().upper()
    if kind not in _N_COMPONENTS or not isinstance(components, str):
        raise LabelContentError(source, f"camera model {kind!r} / {type(components).__name__}")
    values = [_vector(part, source=source) for part in components.split(";")]
    if len(values) != _N_COMPONENTS[kind]:
        raise LabelContentError(source, f"{kind} needs {_N_COMPONENTS[kind]} components, the "
                                        f"sidecar lists {len(values)}")
    group = {"MODEL_TYPE": kind}
    group.update({f"MODEL_COMPONENT_{i}": v for i, v in enumerate(values, start=1)})

    try:
        return from_pds3(group)
    except CameraModelError as exc:
        raise LabelContentError(source, f"camera model: {exc}") from exc


def _int(meta: dict[str, Any], key: str, *, source: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not float(value).is_integer() or abs(value) > 2**53:
        raise LabelContentError(source, f"sidecar {key} = {value!r} is not an integer")
    return int(value)


def _subframe(meta: dict[str, Any], *, source: str) -> Subframe:
    rect = meta.get("subframe_rect")
    if rect is None:
        return Subframe()
    if not isinstance(rect, list) or len(rect) != 4 or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
            and 0 < v < 2**31 for v in rect):
        raise LabelContentError(source, f"subframe_rect {rect!r} is not 4 positive integers")
    first_sample, first_line, samples, lines = (int(v) for v in rect)
    return Subframe(first_line=first_line, first_sample=first_sample, lines=lines,
                    samples=samples)


def _load_sidecar(sidecar: Path, *, source: str) -> dict[str, Any]:
    size = sidecar.stat().st_size
    if size > MAX_SIDECAR_BYTES:
        raise ProductTooLargeError(source, f"sidecar of {size} bytes exceeds {MAX_SIDECAR_BYTES}")
    try:
        meta = json.loads(sidecar.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LabelSyntaxError(source, f"sidecar is not UTF-8 ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise LabelSyntaxError(source, f"sidecar is not JSON: {exc.msg}", exc.lineno,
                               exc.colno) from None
    except RecursionError:
        raise LabelSyntaxError(source, "sidecar JSON nests too deeply") from None
    if not isinstance(meta, dict):
        raise LabelContentError(source, "sidecar JSON is not an object")
    return meta


def read_rawsite(path: str | os.PathLike[str], *, pixels: bool = True,
                 limits: Limits | None = None) -> Product:
    """Read a raw-image-site product from its image or its ``-metadata.json`` sidecar.

    See :func:`rovercam.products.read_product` for parameters and errors. With ``pixels=False``
    only the sidecar is read (the image need not exist).
    """
    p = Path(path)
    source = str(p)
    if p.name.lower().endswith(SIDECAR_SUFFIX):
        sidecar, image_path = p, None
    else:
        sidecar, image_path = sidecar_for(p), p
        if not sidecar.is_file():
            raise UnsupportedProductError(source, f"image without its {sidecar.name} sidecar")
    meta = _load_sidecar(sidecar, source=source)
    warnings: list[str] = []
    stem = sidecar.name[: -len(SIDECAR_SUFFIX)]
    pid = None
    for candidate in (stem, meta.get("imageid")):
        if isinstance(candidate, str):
            try:
                pid = parse_product_id(candidate)
                break
            except ProductError:
                continue
    if pid is None:
        warnings.append("no parseable product id in the file name or imageid")
    image = None
    if pixels:
        if image_path is None:
            image_path = image_for(sidecar, source=source)
        image = _decode(image_path, limits or Limits(), source=source)
    scale = _int(meta, "scale_factor", source=source) or 1
    if scale < 1:
        raise LabelContentError(source, f"scale_factor {scale}")
    subframe = _subframe(meta, source=source)
    if image is not None and subframe.lines is not None and subframe.samples is not None \
            and image.shape[:2] != (subframe.lines // scale, subframe.samples // scale):
        warnings.append(f"image is {image.shape[1]}x{image.shape[0]}, subframe_rect / "
                        f"scale_factor gives {subframe.samples // scale}x"
                        f"{subframe.lines // scale}")
    instrument = str(meta.get("instrument") or (pid.instrument if pid else "UNKNOWN")).upper()
    product_type = pid.product_type if pid else None
    ecam = instrument.startswith(_ECAM)
    companding = Companding()
    if product_type == "ECM":
        state = "expanded" if meta.get("decompand") is True else "companded"
        companding = Companding(method="SOFTWARE", lut="LUT2" if ecam else "UNK",
                                state=state)  # type: ignore[arg-type]
        if not ecam:
            warnings.append(f"companding table of {instrument} raw-site images is unknown")
    bands = None if image is None else (image.shape[2] if image.ndim == 3 else 1)
    cfa = CFA()
    if ecam or instrument.startswith("MCZ"):
        if bands == 1 and pid is not None and pid.filter == "M":
            cfa = CFA(pattern="RGGB", state="encoded")
        elif bands in (3, None) and (pid is None or pid.filter == "F"):
            cfa = CFA(pattern="RGGB", state="decoded", venue="ONBOARD", method="MALVAR")
    start = meta.get("date_taken_utc")
    start_time = None
    if isinstance(start, str):
        try:
            start_time = _dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            warnings.append(f"date_taken_utc {start[:40]!r} is not ISO 8601")
        if start_time is not None and start_time.tzinfo is None:
            start_time = start_time.replace(tzinfo=_dt.timezone.utc)
    filter_name = meta.get("filter_name")
    record = ProductMeta(
        product_id=pid.product_id if pid else stem.upper(),
        mission=pid.mission if pid else "M2020",
        instrument=instrument,
        sol=_int(meta, "sol", source=source) if "sol" in meta else (pid.sol if pid else None),
        sclk=pid.sclk if pid and pid.sclk else (float(meta["sclk"]) if isinstance(
            meta.get("sclk"), (int, float)) else None),
        site=_int(meta, "site", source=source) if "site" in meta else (pid.site if pid else None),
        drive=_int(meta, "drive", source=source) if "drive" in meta
        else (pid.drive if pid else None),
        sequence_id=pid.sequence if pid else None,
        product_type=product_type,
        start_time=start_time,
        camera_model=_camera(meta, source=source),
        camera_frame="ROVER_NAV_FRAME",  # the raw API publishes rover-frame models
        filter=None if filter_name in (None, "UNK", "") else str(filter_name),
        companding=companding,
        cfa=cfa,
        subframe=subframe,
        downsample=(scale, scale),
    )
    return Product(record, path=source, image=image, label=meta, warnings=warnings)
