"""PDS3 products: attached and detached labels, pointers, embedded VICAR headers; the writer.

Reading (docs/products.md#pds3-labels): ``^IMAGE = 23`` counts 1-based records of RECORD_BYTES in
the label's own file; ``("X.IMG", 25)`` the same in X.IMG; ``("X.IMG", 12345 <BYTES>)`` is 1-based
bytes. Data file names are matched case-insensitively in the label's folder and nowhere else. MER
``x.img.lbl`` files are copies of the attached label, so a bare record pointer in a ``.lbl`` file
too small to hold the data refers to ``x.img``. When the label has an embedded VICAR header
(``^IMAGE_HEADER`` + ``IMAGE_HEADER`` object), its dimensions must agree with the IMAGE object.

Writing follows MIPL's ODL3 attached labels (ODL_VERSION_ID = ODL3, FIXED_LENGTH records of one
image line, label padded to whole records, then an optional VICAR header, then the image,
big-endian, band sequential).
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.errors import (
    DataSizeError,
    LabelContentError,
    LabelSyntaxError,
    ProductError,
    UnsupportedProductError,
)
from rovercam.products import odl
from rovercam.products.fields import product_from_label
from rovercam.products.model import Product
from rovercam.products.odl import Label, Quantity
from rovercam.products.raster import Layout, Limits, decode_raster
from rovercam.products.vicar import parse_vicar, vicar_dtype, vicar_layout

__all__ = ["read_pds3", "write_pds3", "read_label_text", "resolve_pointer", "image_dtype",
           "find_in_folder"]

log = logging.getLogger(__name__)

MAX_LABEL_BYTES = 4 * 1024**2
_FIRST_READ = 64 * 1024
_INTEGER_TYPES = {
    "MSB_INTEGER": "i>", "INTEGER": "i>", "SUN_INTEGER": "i>", "MAC_INTEGER": "i>",
    "MSB_UNSIGNED_INTEGER": "u>", "UNSIGNED_INTEGER": "u>", "SUN_UNSIGNED_INTEGER": "u>",
    "MAC_UNSIGNED_INTEGER": "u>",
    "LSB_INTEGER": "i<", "PC_INTEGER": "i<", "VAX_INTEGER": "i<",
    "LSB_UNSIGNED_INTEGER": "u<", "PC_UNSIGNED_INTEGER": "u<", "VAX_UNSIGNED_INTEGER": "u<",
    "IEEE_REAL": "f>", "FLOAT": "f>", "REAL": "f>", "SUN_REAL": "f>", "MAC_REAL": "f>",
    "PC_REAL": "f<",
}
_STORAGE: dict[str, Layout] = {"BAND_SEQUENTIAL": "BSQ", "LINE_INTERLEAVED": "BIL",
                               "SAMPLE_INTERLEAVED": "BIP"}
_END_LINE = re.compile(r"(?:^|[\r\n])[ \t]*END[ \t]*(?:[\r\n]|$)")


# ------------------------------------------------------------------------------------------------
# Reading
def read_label_text(path: Path) -> tuple[Label, int]:
    """Parse the ODL label at the start of ``path``; returns (label, label length in bytes).

    Reads 64 KiB first and more (up to 4 MiB) only when the END statement is not in it.
    """
    size = path.stat().st_size
    limit = _FIRST_READ
    while True:
        with open(path, "rb") as f:
            head = f.read(limit)
        text = head.decode("latin-1")
        has_end = _END_LINE.search(text) is not None
        if has_end or len(head) >= size or limit >= MAX_LABEL_BYTES:
            if not has_end and len(head) < size:
                raise LabelSyntaxError(str(path), f"no END statement in the first {limit} bytes")
            label, end = odl.parse(text, source=str(path))
            return label, end
        limit = MAX_LABEL_BYTES


def find_in_folder(folder: Path, name: str, *, source: str) -> Path:
    """The file called ``name`` (case-insensitively) directly in ``folder``.

    Raises
    ------
    rovercam.errors.LabelContentError
        ``name`` is a path (another directory, ``..``, absolute) or resolves outside ``folder``.
    rovercam.errors.ProductError
        No such file.
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name \
            or ":" in name:
        raise LabelContentError(source, f"pointer names a file outside the product folder: "
                                        f"{name!r}")
    candidate = folder / name
    if not candidate.is_file():
        lower = name.lower()
        candidate = next((Path(e.path) for e in os.scandir(folder)
                          if e.name.lower() == lower and e.is_file()), None)  # type: ignore[assignment]
        if candidate is None:
            raise ProductError(source, f"data file {name!r} not found next to the label")
    if Path(os.path.realpath(candidate)).parent != Path(os.path.realpath(folder)):
        raise LabelContentError(source, f"data file {name!r} links outside the product folder")
    return candidate


def resolve_pointer(value: Any, record_bytes: Any, *, source: str) -> tuple[str | None, int]:
    """(file name or None for the label's own file, 0-based byte offset) of a PDS3 pointer."""
    name: str | None = None
    if isinstance(value, tuple):
        if not 1 <= len(value) <= 2 or not isinstance(value[0], str):
            raise LabelContentError(source, f"malformed pointer {value!r}")
        name = value[0]
        value = value[1] if len(value) == 2 else Quantity(1, "BYTES")
    elif isinstance(value, str):
        name, value = value, Quantity(1, "BYTES")
    if isinstance(value, Quantity):
        n = value.value
        if str(value.unit).upper() != "BYTES" or not isinstance(n, int) or isinstance(n, bool) \
                or n < 1:
            raise LabelContentError(source, f"malformed byte pointer {value!r}")
        return name, n - 1
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LabelContentError(source, f"malformed record pointer {value!r}")
    if isinstance(record_bytes, bool) or not isinstance(record_bytes, int) or record_bytes < 1:
        raise LabelContentError(source, f"record pointer but RECORD_BYTES = {record_bytes!r}")
    return name, (value - 1) * record_bytes


def _data_path(label_path: Path, name: str | None, offset: int, *, source: str) -> Path:
    if name is not None:
        return find_in_folder(label_path.parent, name, source=source)
    if label_path.name.lower().endswith(".lbl") and offset >= label_path.stat().st_size:
        stem = label_path.name[:-4]
        candidates = [stem] if "." in stem else [stem + ".IMG", stem + ".img"]
        for candidate in candidates:
            try:
                return find_in_folder(label_path.parent, candidate, source=source)
            except ProductError:
                continue
        raise ProductError(source, f"detached label without a file name and no data file "
                                   f"{candidates[0]!r} next to it")
    return label_path


def image_dtype(image: Mapping[str, Any], *, source: str) -> np.dtype:
    """The stored numpy dtype of a PDS3 IMAGE object (SAMPLE_TYPE + SAMPLE_BITS)."""
    sample_type = str(image.get("SAMPLE_TYPE", "")).upper()
    bits = image.get("SAMPLE_BITS")
    code = _INTEGER_TYPES.get(sample_type)
    if code is None:
        raise UnsupportedProductError(source, f"SAMPLE_TYPE {sample_type!r} is not supported")
    kind, order = code
    allowed = (32, 64) if kind == "f" else (8, 16, 32, 64)
    if isinstance(bits, bool) or bits not in allowed:
        raise UnsupportedProductError(source, f"SAMPLE_BITS {bits!r} with {sample_type}")
    size = bits // 8
    if size == 1:
        return np.dtype(f"{kind}1")
    return np.dtype(f"{order}{kind}{size}")


def _check_file_records(label: Mapping[str, Any], data: Path, warnings: list[str], *,
                        source: str) -> None:
    records, record_bytes = label.get("FILE_RECORDS"), label.get("RECORD_BYTES")
    if str(label.get("RECORD_TYPE", "")).upper() != "FIXED_LENGTH":
        return
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (records, record_bytes)):
        return
    declared = records * record_bytes
    actual = data.stat().st_size
    if actual < declared:
        raise DataSizeError(source, f"{data.name} has {actual} bytes, the label declares "
                                    f"{records} records of {record_bytes} = {declared}")
    if actual > declared:
        warnings.append(f"{data.name} has {actual - declared} bytes beyond FILE_RECORDS")


def _check_vicar_header(label: Mapping[str, Any], label_path: Path, image: Mapping[str, Any],
                        image_offset: int, warnings: list[str], *, source: str) -> None:
    header = label.get("IMAGE_HEADER")
    pointer = label.get("^IMAGE_HEADER")
    if pointer is None or not isinstance(header, Mapping) \
            or not str(header.get("HEADER_TYPE", "")).upper().startswith("VICAR"):
        return
    name, offset = resolve_pointer(pointer, label.get("RECORD_BYTES"), source=source)
    path = _data_path(label_path, name, offset, source=source)
    nbytes = header.get("BYTES")
    if isinstance(nbytes, bool) or not isinstance(nbytes, int) or not 0 < nbytes <= 16 * 2**20:
        nbytes = _FIRST_READ
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(nbytes)
    vicar = parse_vicar(data, source=f"{source} (VICAR header)")
    _, nl, ns, nb, _, nlb = vicar_layout(vicar.system, source=source)
    declared = (image.get("LINES"), image.get("LINE_SAMPLES"), image.get("BANDS", 1))
    if (nl, ns, nb) != declared:
        raise LabelContentError(source, f"VICAR header says {nl}x{ns}x{nb}, the IMAGE object "
                                        f"{declared[0]}x{declared[1]}x{declared[2]}")
    itemsize = vicar_dtype(vicar.system, source=source).itemsize
    if itemsize * 8 != image.get("SAMPLE_BITS"):
        raise LabelContentError(source, f"VICAR FORMAT {vicar.system.get('FORMAT')} disagrees "
                                        f"with SAMPLE_BITS {image.get('SAMPLE_BITS')}")
    recsize = vicar.system.get("RECSIZE", 0)
    vicar_image = offset + vicar.lblsize + nlb * (recsize if isinstance(recsize, int) else 0)
    if vicar_image != image_offset:
        warnings.append(f"VICAR header puts the image at byte {vicar_image}, ^IMAGE at "
                        f"{image_offset}")


def read_pds3(path: Path, *, pixels: bool = True, limits: Limits | None = None) -> Product:
    """Read a PDS3 product from its label file (attached or detached).

    See :func:`rovercam.products.read_product` for parameters and errors.
    """
    source = str(path)
    label, _ = read_label_text(path)
    warnings: list[str] = []
    image = None
    image_obj = label.get("IMAGE")
    if pixels:
        if "^IMAGE" not in label or not isinstance(image_obj, Mapping):
            raise LabelContentError(source, "label has no ^IMAGE pointer and IMAGE object")
        name, offset = resolve_pointer(label["^IMAGE"], label.get("RECORD_BYTES"), source=source)
        data_path = _data_path(path, name, offset, source=source)
        _check_file_records(label, data_path, warnings, source=source)
        dtype = image_dtype(image_obj, source=source)
        storage = str(image_obj.get("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL")).upper()
        if storage not in _STORAGE:
            raise UnsupportedProductError(source, f"BAND_STORAGE_TYPE {storage!r}")
        prefix = image_obj.get("LINE_PREFIX_BYTES", 0)
        suffix = image_obj.get("LINE_SUFFIX_BYTES", 0)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (prefix, suffix)):
            raise LabelContentError(source, "LINE_PREFIX_BYTES/LINE_SUFFIX_BYTES not integers")
        image = decode_raster(
            data_path, offset=offset, dtype=dtype, layout=_STORAGE[storage],
            lines=image_obj.get("LINES"), samples=image_obj.get("LINE_SAMPLES"),
            bands=image_obj.get("BANDS", 1), prefix_bytes=prefix, suffix_bytes=suffix,
            limits=limits, source=source)
        _check_vicar_header(label, path, image_obj, offset, warnings, source=source)
    elif "^IMAGE" in label:
        resolve_pointer(label["^IMAGE"], label.get("RECORD_BYTES"), source=source)
    product = product_from_label(label, path=source, image=image)
    product.warnings.extend(warnings)
    return product


# ------------------------------------------------------------------------------------------------
# Writing
_WRITE_TYPES = {("u", 1): "UNSIGNED_INTEGER", ("i", 1): "MSB_INTEGER",
                ("u", 2): "MSB_UNSIGNED_INTEGER", ("i", 2): "MSB_INTEGER",
                ("u", 4): "MSB_UNSIGNED_INTEGER", ("i", 4): "MSB_INTEGER",
                ("f", 4): "IEEE_REAL", ("f", 8): "IEEE_REAL"}
_VICAR_FORMATS = {1: "BYTE", 2: "HALF", 4: "FULL"}
_MISSION_HOSTS = {"MSL": "MSL", "MER": "MER", "M2020": "M20"}


def _frame_groups(product: Product) -> list[tuple[str, Label]]:
    groups: list[tuple[str, Label]] = []
    used: set[str] = set()
    for key, frame in product.coordinate_systems.items():
        name = key.split("@", 1)[0]  # "SITE_FRAME@93": an instance-keyed frame (model.py)
        reference, _, ref_instance = frame.reference.partition("@")
        prefix = name.split("_", 1)[0]
        if prefix in used:
            prefix = name.removesuffix("_FRAME")
        used.add(prefix)
        group = Label(kind="GROUP")
        group.append("COORDINATE_SYSTEM_NAME", name)
        if frame.index:
            group.append("COORDINATE_SYSTEM_INDEX", frame.index if len(frame.index) > 1
                         else frame.index[0])
        group.append("ORIGIN_OFFSET_VECTOR", tuple(float(v) for v in frame.offset))
        group.append("ORIGIN_ROTATION_QUATERNION", tuple(float(v) for v in frame.quaternion))
        group.append("POSITIVE_AZIMUTH_DIRECTION", "CLOCKWISE")
        group.append("POSITIVE_ELEVATION_DIRECTION", "UP")
        group.append("REFERENCE_COORD_SYSTEM_NAME", reference)
        if ref_instance.isdigit():
            group.append("REFERENCE_COORD_SYSTEM_INDEX", int(ref_instance))
        elif frame.index:
            group.append("REFERENCE_COORD_SYSTEM_INDEX",
                         frame.index[0] if reference.startswith("SITE") else
                         (frame.index if len(frame.index) > 1 else frame.index[0]))
        groups.append((f"{prefix}_COORDINATE_SYSTEM", group))
    return groups


def _state_group(product: Product) -> Label:
    state = Label(kind="GROUP")
    if product.exposure_s is not None:
        state.append("EXPOSURE_DURATION", Quantity(float(product.exposure_s) * 1000.0, "ms"))
    if product.filter is not None:
        state.append("FILTER_NAME", product.filter)
    if product.focal_length_mm is not None:
        state.append("FOCAL_LENGTH", Quantity(float(product.focal_length_mm), "mm"))
    if product.zoom_position is not None:
        state.append("INSTRUMENT_ZOOM_POSITION", int(product.zoom_position))
    if product.temperature_c is not None:
        state.append("INSTRUMENT_TEMPERATURE", Quantity(float(product.temperature_c), "degC"))
    comp = product.companding
    state.append("SAMPLE_BIT_METHOD", comp.method)
    state.append("SAMPLE_BIT_MODE_ID", comp.lut)
    if comp.original_bits is not None:
        state.append("ORIGINAL_SAMPLE_BITS", int(comp.original_bits))
    cfa = product.cfa
    if cfa.pattern is not None:
        state.append("CFA_TYPE", f"BAYER_{cfa.pattern}")
    if cfa.venue is not None:
        state.append("CFA_VENUE", cfa.venue)
    if cfa.method is not None:
        state.append("BAYER_METHOD", cfa.method)
    state.append("PIXEL_AVERAGING_HEIGHT", int(product.downsample[0]))
    state.append("PIXEL_AVERAGING_WIDTH", int(product.downsample[1]))
    state.append("FLAT_FIELD_CORRECTION_FLAG", "TRUE" if product.flat_field_applied else "FALSE")
    return state


def _vicar_value(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "'TRUE'" if value else "'FALSE'"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_vicar_value(v) for v in value) + ")"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return _vicar_value(str(value))


def _vicar_header(label: Label, image: np.ndarray, record_bytes: int) -> bytes:
    lines, samples = image.shape[:2]
    bands = image.shape[2] if image.ndim == 3 else 1
    dtype = image.dtype
    fmt = "REAL" if dtype == np.float32 else "DOUB" if dtype == np.float64 else \
        _VICAR_FORMATS[dtype.itemsize]
    items = [("FORMAT", fmt), ("TYPE", "IMAGE"), ("BUFSIZ", record_bytes), ("DIM", 3),
             ("EOL", 0), ("RECSIZE", record_bytes), ("ORG", "BSQ"), ("NL", lines),
             ("NS", samples), ("NB", bands), ("N1", samples), ("N2", lines), ("N3", bands),
             ("N4", 0), ("NBB", 0), ("NLB", 0), ("HOST", "JAVA"), ("INTFMT", "HIGH"),
             ("REALFMT", "IEEE"), ("BHOST", "JAVA"), ("BINTFMT", "HIGH"), ("BREALFMT", "IEEE"),
             ("BLTYPE", ""), ("COMPRESS", "NONE"), ("EOCI1", 0), ("EOCI2", 0)]
    body = "  ".join(f"{k}={_vicar_value(v)}" for k, v in items)
    sections = ["PROPERTY='IDENTIFICATION'"]
    for key, value in label.pairs():
        if isinstance(value, Mapping) or key.startswith("^") or key in (
                "ODL_VERSION_ID", "RECORD_TYPE", "RECORD_BYTES", "FILE_RECORDS",
                "LABEL_RECORDS"):
            continue
        sections.append(f"{key}={_vicar_value(value)}")
    for name, group in label.pairs():
        if not isinstance(group, Label) or group.kind != "GROUP":
            continue
        sections.append(f"PROPERTY={_vicar_value(name)}")
        for key, value in group.pairs():
            if isinstance(value, Quantity):
                sections.append(f"{key}={_vicar_value(value.value)}  "
                                f"{key}__UNIT={_vicar_value(value.unit)}")
            elif not isinstance(value, Mapping):
                sections.append(f"{key}={_vicar_value(value)}")
    rest = "  " + "  ".join([body] + sections) + "  "
    size = record_bytes
    while len(f"LBLSIZE={size}") + len(rest) > size:
        size += record_bytes
    text = f"LBLSIZE={size}" + rest
    return text.encode("ascii", "replace").ljust(size, b"\x00")


def _build_label(product: Product, image: np.ndarray, *, dtype: np.dtype, record_bytes: int,
                 label_records: int, vicar_records: int, file_records: int,
                 data_name: str | None = None) -> Label:
    lines, samples = image.shape[:2]
    bands = image.shape[2] if image.ndim == 3 else 1
    label = Label()
    label.append("ODL_VERSION_ID" if data_name is None else "PDS_VERSION_ID",
                 "ODL3" if data_name is None else "PDS3")
    label.append("RECORD_TYPE", "FIXED_LENGTH")
    label.append("RECORD_BYTES", record_bytes)
    label.append("FILE_RECORDS", file_records)
    if data_name is None:  # attached: pointers count records of this very file
        label.append("LABEL_RECORDS", label_records)
        if vicar_records:
            label.append("^IMAGE_HEADER", label_records + 1)
        label.append("^IMAGE", label_records + vicar_records + 1)
    else:  # detached: pointers name the data file, which starts with the VICAR header if any
        if vicar_records:
            label.append("^IMAGE_HEADER", (data_name, 1))
        label.append("^IMAGE", (data_name, vicar_records + 1))
    label.append("INSTRUMENT_HOST_ID", _MISSION_HOSTS.get(product.mission, product.mission))
    label.append("INSTRUMENT_ID", product.instrument)
    if product.sol is not None:
        label.append("PLANET_DAY_NUMBER", int(product.sol))
    label.append("PRODUCT_ID", product.product_id)
    if product.site is not None and product.drive is not None:
        label.append("ROVER_MOTION_COUNTER", (int(product.site), int(product.drive)))
        label.append("ROVER_MOTION_COUNTER_NAME", ("SITE", "DRIVE"))
    if product.sequence_id is not None:
        label.append("SEQUENCE_ID", product.sequence_id)
    if product.sclk is not None:
        label.append("SPACECRAFT_CLOCK_START_COUNT", f"{product.sclk:.3f}")
    if product.start_time is not None:
        label.append("START_TIME", product.start_time)
    if product.camera_model is not None:
        camera = Label(product.camera_model.to_pds3().items(), kind="GROUP")
        if product.camera_frame is not None:
            camera.append("REFERENCE_COORD_SYSTEM_NAME", product.camera_frame)
        if product.site is not None and product.drive is not None:
            camera.append("REFERENCE_COORD_SYSTEM_INDEX", (int(product.site), int(product.drive)))
        label.append("GEOMETRIC_CAMERA_MODEL", camera)
    for name, group in _frame_groups(product):
        label.append(name, group)
    label.append("INSTRUMENT_STATE_PARMS", _state_group(product))
    obj = Label(kind="OBJECT")
    obj.append("INTERCHANGE_FORMAT", "BINARY")
    obj.append("LINES", int(lines))
    obj.append("LINE_SAMPLES", int(samples))
    obj.append("SAMPLE_TYPE", _WRITE_TYPES[(dtype.kind, dtype.itemsize)])
    obj.append("SAMPLE_BITS", dtype.itemsize * 8)
    obj.append("BANDS", int(bands))
    obj.append("BAND_STORAGE_TYPE", "BAND_SEQUENTIAL")
    obj.append("FIRST_LINE", int(product.subframe.first_line))
    obj.append("FIRST_LINE_SAMPLE", int(product.subframe.first_sample))
    if product.label_stats is not None:
        for key, value in zip(("MEAN", "MEDIAN", "MINIMUM", "MAXIMUM", "STANDARD_DEVIATION",
                               "CHECKSUM"),
                              (product.label_stats.mean, product.label_stats.median,
                               product.label_stats.minimum, product.label_stats.maximum,
                               product.label_stats.standard_deviation,
                               product.label_stats.checksum)):
            if value is not None:
                obj.append(key, float(value))
    label.append("IMAGE", obj)
    if vicar_records:
        header = Label(kind="OBJECT")
        header.append("HEADER_TYPE", "VICAR2")
        header.append("INTERCHANGE_FORMAT", "ASCII")
        header.append("BYTES", vicar_records * record_bytes)
        label.append("IMAGE_HEADER", header)
    return label


def atomic_write(out: Path, chunks: list[bytes]) -> None:
    """Write ``chunks`` to ``out`` through a temporary file in the same folder, then rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def detached_data_name(label_path: Path) -> str:
    """Name of the data file a detached label written by :func:`write_pds3` points to."""
    stem = label_path.name.rsplit(".", 1)[0] if "." in label_path.name else label_path.name
    return stem + ".IMG"


def write_pds3(path: str | os.PathLike[str], product: Product, *,
               embed_vicar: bool = False, detached: bool = False) -> Path:
    """Write ``product`` as a PDS3 product, atomically.

    Parameters
    ----------
    path : path-like
        Output file: the attached-label product, or with ``detached`` the ``.LBL`` label (its
        data file ``<stem>.IMG`` is written beside it). Each file is written to a temporary
        file in the same folder, then renamed; the data file first, the label last.
    product : Product
        Must carry ``image``, shaped (lines, samples) or (lines, samples, bands), of uint8,
        int8, (u)int16, (u)int32, float32 or float64.
    embed_vicar : bool, keyword-only
        Also write a VICAR label before the image (as MIPL EDRs do); in the data file when
        detached.
    detached : bool, keyword-only
        Write a PDS3 detached label (``PDS_VERSION_ID = PDS3``, ``^IMAGE = ("X.IMG", n)`` in
        records of the data file) instead of an attached ODL3 one.

    Returns
    -------
    Path
        The written label (attached: the product file).

    Raises
    ------
    rovercam.errors.ProductError
        No image, or an image the format cannot hold.
    """
    out = Path(path)
    image = product.image
    if image is None or image.ndim not in (2, 3) or 0 in image.shape:
        raise ProductError(str(out), "write_pds3 needs a product with a 2-D or 3-D image")
    if (image.dtype.kind, image.dtype.itemsize) not in _WRITE_TYPES:
        raise ProductError(str(out), f"cannot write {image.dtype} pixels to PDS3")
    dtype = image.dtype.newbyteorder(">") if image.dtype.itemsize > 1 else image.dtype
    samples = image.shape[1]
    record_bytes = samples * dtype.itemsize
    bands = image.shape[2] if image.ndim == 3 else 1
    data_records = image.shape[0] * bands
    data_name = detached_data_name(out) if detached else None
    if data_name is not None and data_name == out.name:
        raise ProductError(str(out), "a detached label needs a name other than its data file's")
    probe = _build_label(product, image, dtype=dtype, record_bytes=record_bytes,
                         label_records=0, vicar_records=0, file_records=0)
    vicar = _vicar_header(probe, image, record_bytes) if embed_vicar else b""
    vicar_records = len(vicar) // record_bytes
    pixels = image.transpose(2, 0, 1) if image.ndim == 3 else image
    body = np.ascontiguousarray(pixels, dtype=dtype).tobytes()
    if data_name is not None:
        label = _build_label(product, image, dtype=dtype, record_bytes=record_bytes,
                             label_records=0, vicar_records=vicar_records,
                             file_records=vicar_records + data_records, data_name=data_name)
        atomic_write(out.with_name(data_name), [vicar, body])
        atomic_write(out, [odl.dumps(label).encode("ascii", "replace")])
        log.info("%s: wrote %s and %s", product.product_id, out, data_name)
        return out
    label_records = 1
    for _ in range(8):  # the record counts are written in the label itself: iterate to a fixpoint
        label = _build_label(product, image, dtype=dtype, record_bytes=record_bytes,
                             label_records=label_records, vicar_records=vicar_records,
                             file_records=label_records + vicar_records + data_records)
        text = odl.dumps(label).encode("ascii", "replace")
        needed = -(-len(text) // record_bytes)
        if needed == label_records:
            break
        label_records = needed
    else:  # pragma: no cover - the size grows by at most a few digits
        raise ProductError(str(out), "label size did not converge")
    atomic_write(out, [text.ljust(label_records * record_bytes, b" "), vicar, body])
    log.info("%s: wrote %s", product.product_id, out)
    return out
