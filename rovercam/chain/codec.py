"""Frames as blobs between tasks: a versioned header that names every field, then the raw pixels.

A blob is a :mod:`rovercam.storage.arrayblob` (magic, JSON head, ``.npy`` pixels). The head is::

    {"codec": "rovercam-frame", "version": 2,
     "frame": {"meta": {"product_id": ..., "cfa": {"pattern": "RGGB", ...}, ...},
               "units": ..., "provenance": {...}, ...}}

Every record is a JSON object keyed by its dataclass field names, nested records likewise
(:class:`~rovercam.products.model.ProductMeta`, ``CoordinateSystem``, ``Companding``, ``CFA``,
``Subframe``, ``Provenance``, ``CalibrationLevel``); a camera model adds ``"model": "CAHVORE"``
to its components. The field lists come from the dataclasses themselves, so a field added to
``ProductMeta`` travels without any edit here. Reading:

- the order of fields does not matter;
- a field the blob lacks takes its dataclass default (blobs written before the field existed);
  a missing field without a default is an error;
- a field this code does not know is an error (a blob from newer code), as is a codec version
  other than :data:`VERSION`. Bump :data:`VERSION` when a field is renamed, removed or changes
  meaning; adding an optional field needs no bump.

The pixels never go through JSON: writing is one view of the image (:func:`frame_pieces`), reading
a read-only view of the blob.
"""
from __future__ import annotations

import datetime as _dt
import functools
import types
from collections.abc import Mapping
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Callable, Literal, Union, get_args, get_origin, get_type_hints

import numpy as np

from rovercam.camera import CAHV, CAHVOR, CAHVORE, CameraModel
from rovercam.chain.frame import Frame
from rovercam.errors import FrameCodecError
from rovercam.storage import arrayblob

__all__ = ["CODEC", "VERSION", "dumps_frame", "frame_pieces", "loads_frame", "encode_record", "decode_record"]

#: The head's ``codec`` name.
CODEC = "rovercam-frame"
#: The codec version this code writes and reads (1 was the unversioned, positional format).
VERSION = 2
#: Camera model classes by the ``"model"`` tag their records carry.
_CAMERA_MODELS: dict[str, type] = {cls.__name__: cls for cls in (CAHV, CAHVOR, CAHVORE)}


def dumps_frame(frame: Frame) -> bytes:
    """Encode a Frame as one blob (the pixels and a named-field JSON head; module docstring)."""
    return b"".join(frame_pieces(frame))


def frame_pieces(frame: Frame) -> tuple[bytes, memoryview | bytes]:
    """:func:`dumps_frame` in two pieces, ``(head, pixels)``, the pixels a view of the frame's
    image: what ``Transaction.put`` stores without a joined copy (~6 ms of a Mastcam-Z frame)."""
    head = {"codec": CODEC, "version": VERSION, "frame": encode_record(frame, skip=("image",))}
    return arrayblob.pack_pieces(frame.image, head)


def loads_frame(blob: bytes, *, source: str = "frame blob") -> Frame:
    """Inverse of :func:`dumps_frame`; the image is a read-only view of ``blob``.

    Parameters
    ----------
    blob : bytes
    source : str, keyword-only
        What the blob is (a store key), for error messages.

    Raises
    ------
    rovercam.errors.FrameCodecError
        Not a frame blob, a codec version other than :data:`VERSION`, a required field missing
        or a field this code does not know.
    """
    try:
        image, head = arrayblob.unpack(blob)
    except ValueError as exc:
        raise FrameCodecError(source, str(exc)) from None
    if head.get("codec") != CODEC:
        if "product_id" in head and "version" not in head:
            raise FrameCodecError(source, f"frame codec version 1 (unversioned) is not supported; this "
                                          f"rovercam reads version {VERSION}: recompute the frame")
        raise FrameCodecError(source, f"not a frame blob (codec {head.get('codec')!r})")
    version = head.get("version")
    if version != VERSION:
        raise FrameCodecError(source, f"frame codec version {version!r} is not supported; this rovercam "
                                      f"reads version {VERSION}")
    return decode_record(Frame, head["frame"], where=source, given={"image": image})


# --- records <-> JSON, driven by the dataclass fields ---------------------------------------------

def encode_record(record: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass instance as a JSON-ready dict keyed by field name (nested records likewise).

    ``skip`` names fields left out (the Frame's pixels). A camera model's dict carries its class
    name under ``"model"``.
    """
    out = {name: _encode(getattr(record, name)) for name in _field_names(type(record)) if name not in skip}
    name = type(record).__name__
    if _CAMERA_MODELS.get(name) is type(record):
        out["model"] = name
    return out


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(type(value), "__dataclass_fields__"):
        return encode_record(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} in a frame head")


def decode_record(cls: type, data: Any, *, where: str, given: Mapping[str, Any] | None = None) -> Any:
    """Inverse of :func:`encode_record`: an instance of dataclass ``cls`` from its named fields.

    ``given`` supplies fields that are not in ``data`` (the Frame's pixels). Missing fields take
    their defaults; ``where`` (the blob's source) prefixes error messages.

    Raises
    ------
    rovercam.errors.FrameCodecError
        ``data`` is not an object, lacks a field without a default, or has a field ``cls`` lacks.
    """
    if not isinstance(data, Mapping):
        raise FrameCodecError(where, f"{cls.__name__} record is {type(data).__name__}, expected an object")
    specs = _field_decoders(cls)
    kwargs: dict[str, Any] = dict(given) if given else {}
    for name, decode, required in specs:
        if name in kwargs:
            continue
        if name in data:
            value = data[name]
            kwargs[name] = None if value is None else decode(value, where)
        elif required:
            raise FrameCodecError(where, f"{cls.__name__} field {name!r} is missing and has no default")
    if not data.keys() <= _known_keys(cls):
        unknown = sorted(data.keys() - _known_keys(cls))
        raise FrameCodecError(where, f"{cls.__name__} has no field {', '.join(unknown)} "
                                     f"(a blob from a newer rovercam?)")
    return cls(**kwargs)


Decoder = Callable[[Any, str], Any]


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@functools.cache
def _known_keys(cls: type) -> frozenset[str]:
    """What a record of ``cls`` may hold: its init fields, and a camera model's ``"model"`` tag."""
    return frozenset(f.name for f in fields(cls) if f.init) | {"model"}


@functools.cache
def _field_decoders(cls: type) -> tuple[tuple[str, Decoder, bool], ...]:
    """(name, decoder, required) per init field of dataclass ``cls``, from its type hints; cached."""
    hints = get_type_hints(cls)
    return tuple((f.name, _decoder(hints[f.name]), f.default is MISSING and f.default_factory is MISSING)
                 for f in fields(cls) if f.init)


def _same(value: Any, where: str) -> Any:
    return value


def _datetime(value: Any, where: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(value)


def _float(value: Any, where: str) -> float:
    return float(value)


def _int(value: Any, where: str) -> int:
    return int(value)


def _array(value: Any, where: str) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _camera_model(value: Any, where: str) -> Any:
    cls = _CAMERA_MODELS.get(value.get("model")) if isinstance(value, Mapping) else None
    if cls is None:
        raise FrameCodecError(where, f"unknown camera model record {value!r:.80}")
    return decode_record(cls, value, where=where)


@functools.cache
def _decoder(tp: Any) -> Decoder:
    """A function ``(json_value, where) -> value`` of type ``tp`` (``json_value`` not None); cached."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        options = [a for a in get_args(tp) if a is not type(None)]
        return _decoder(options[0]) if len(options) == 1 else _same
    if tp is Any or origin is Literal or tp in (str, bool):
        return _same
    simple = {float: _float, int: _int, _dt.datetime: _datetime, CameraModel: _camera_model}
    if tp in simple:
        return simple[tp]
    if origin is np.ndarray or tp is np.ndarray:
        return _array
    args = get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(args[0])
        return lambda value, where: tuple(None if v is None else item(v, where) for v in value)
    if origin is tuple:
        items = [_decoder(a) for a in args]
        return lambda value, where: tuple(None if v is None else d(v, where)
                                          for d, v in zip(items, value, strict=True))
    if origin is list:
        item = _decoder(args[0])
        return lambda value, where: [None if v is None else item(v, where) for v in value]
    if origin is dict:
        item = _decoder(args[1])
        return lambda value, where: {k: None if v is None else item(v, where) for k, v in value.items()}
    if is_dataclass(tp):
        return lambda value, where: decode_record(tp, value, where=where)
    raise TypeError(f"the frame codec has no decoder for {tp!r}")
