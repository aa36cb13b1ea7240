"""VICAR labels: system items, PROPERTY sections, history tasks, and the pixel layout they imply.

A VICAR label is ASCII ``KEY=value`` items padded to LBLSIZE bytes (the VICAR File Format, JPL MIPL): strings in
single quotes (``''`` escapes a quote), integers, reals, and lists in parentheses. The system
items (LBLSIZE, FORMAT, TYPE, ORG, NL, NS, NB, N1..N4, NBB, NLB, RECSIZE, INTFMT, REALFMT, EOL...)
come first; ``PROPERTY='NAME'`` opens a property section (MIPL mirrors its ODL groups there) and
``TASK='NAME'`` a history section. Units are written as ``KEY__UNIT``, pointers as ``KEY__PTR``.

Pixels start at ``offset + LBLSIZE + NLB * RECSIZE``; each of the N2*N3 records is RECSIZE bytes,
NBB binary prefix bytes then N1 pixels.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rovercam.errors import LabelContentError, LabelSyntaxError, UnsupportedProductError
from rovercam.products.odl import Label, Quantity

__all__ = ["VicarLabel", "parse_vicar", "is_vicar", "vicar_dtype", "vicar_layout", "to_label"]

_ITEM = re.compile(
    r"[ \t\r\n\x00]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*"
    r"('(?:[^']|'')*'|\((?:'(?:[^']|'')*'|[^)'])*\)|[^\s'()=]+)"
)
_LIST_ITEM = re.compile(r"'((?:[^']|'')*)'|([^,'()\s]+)")
_LBLSIZE = re.compile(rb"LBLSIZE\s*=\s*(\d{1,9})")
_FORMATS = {"BYTE": ("u", 1, "int"), "HALF": ("i", 2, "int"), "WORD": ("i", 2, "int"),
            "FULL": ("i", 4, "int"), "LONG": ("i", 4, "int"), "REAL": ("f", 4, "real"),
            "DOUB": ("f", 8, "real")}
_INTFMT = {"HIGH": ">", "LOW": "<"}
_REALFMT = {"IEEE": ">", "RIEEE": "<"}


@dataclass(slots=True)
class VicarLabel:
    """A parsed VICAR label.

    Attributes
    ----------
    system : dict
        The system items before the first PROPERTY or TASK (LBLSIZE, FORMAT, NL, ...).
    properties : Label
        Property name -> Label of its items, in label order (repeated names kept).
    history : list of (str, dict)
        (task name, its items) in order.
    """

    system: dict[str, Any]
    properties: Label = field(default_factory=Label)
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def lblsize(self) -> int:
        return int(self.system["LBLSIZE"])


def _decode_scalar(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _decode(text: str) -> Any:
    if not text.startswith("("):
        return _decode_scalar(text)
    items: list[Any] = []
    for m in _LIST_ITEM.finditer(text[1:-1]):
        quoted = m.group(1)
        items.append(quoted.replace("''", "'") if quoted is not None
                     else _decode_scalar(m.group(2)))
    return tuple(items)


def is_vicar(head: bytes) -> bool:
    """True when ``head`` starts with a VICAR label (``LBLSIZE=``)."""
    return head.lstrip(b" ")[:8] == b"LBLSIZE="


def parse_vicar(data: bytes, *, source: str = "<vicar>") -> VicarLabel:
    """Parse the VICAR label at the start of ``data``.

    Parameters
    ----------
    data : bytes
        Starts with ``LBLSIZE=``; at least LBLSIZE bytes long.
    source : str, keyword-only
        Name used in error messages.

    Raises
    ------
    rovercam.errors.LabelSyntaxError
        No LBLSIZE, a label shorter than LBLSIZE, or text that is not ``KEY=value`` items.
    """
    m = _LBLSIZE.match(data.lstrip(b" "))
    if m is None:
        raise LabelSyntaxError(source, "VICAR label does not start with LBLSIZE=", 1, 1)
    lblsize = int(m.group(1))
    if lblsize <= 0 or lblsize > len(data):
        raise LabelSyntaxError(
            source, f"VICAR LBLSIZE={lblsize} but only {len(data)} bytes are available", 1, 1)
    text = data[:lblsize].decode("latin-1")
    end = text.find("\x00")
    text = text if end < 0 else text[:end]
    label = VicarLabel(system={})
    section: dict[str, Any] | Label = label.system
    pos = 0
    stripped_len = len(text.rstrip(" \t\r\n"))
    while pos < stripped_len:
        item = _ITEM.match(text, pos)
        if item is None:
            raise LabelSyntaxError(source, f"VICAR label: cannot read item at byte {pos}",
                                   1, pos + 1)
        key, raw = item.group(1), item.group(2)
        pos = item.end()
        value = _decode(raw)
        if key == "PROPERTY":
            section = Label(kind="GROUP")
            label.properties.append(str(value), section)
        elif key == "TASK":
            section = {}
            label.history.append((str(value), section))
        elif isinstance(section, Label):
            section.append(key, value)
        else:
            section[key] = value
    for required in ("FORMAT", "NL", "NS"):
        if required not in label.system:
            raise LabelContentError(source, f"VICAR label lacks the system item {required}")
    return label


def vicar_dtype(system: dict[str, Any], *, source: str) -> np.dtype:
    """The stored pixel dtype (with byte order) from FORMAT, INTFMT and REALFMT."""
    fmt = str(system.get("FORMAT", "")).upper()
    if fmt not in _FORMATS:
        raise UnsupportedProductError(source, f"VICAR FORMAT={fmt!r} is not supported")
    kind, size, family = _FORMATS[fmt]
    if size == 1:
        return np.dtype(kind + "1")
    if family == "int":
        order = _INTFMT.get(str(system.get("INTFMT", "LOW")).upper())
        what = f"INTFMT={system.get('INTFMT')!r}"
    else:
        order = _REALFMT.get(str(system.get("REALFMT", "VAX")).upper())
        what = f"REALFMT={system.get('REALFMT')!r}"
    if order is None:
        raise UnsupportedProductError(source, f"VICAR {what} is not supported")
    return np.dtype(f"{order}{kind}{size}")


def vicar_layout(system: dict[str, Any], *, source: str
                 ) -> tuple[Literal["BSQ", "BIL", "BIP"], int, int, int, int, int]:
    """(org, lines, samples, bands, prefix bytes NBB, header records NLB) with checks."""
    org = str(system.get("ORG", "BSQ")).upper()
    if org not in ("BSQ", "BIL", "BIP"):
        raise UnsupportedProductError(source, f"VICAR ORG={org!r} is not supported")
    values = []
    for key, default in (("NL", None), ("NS", None), ("NB", 1), ("NBB", 0), ("NLB", 0)):
        value = system.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise LabelContentError(source, f"VICAR {key}={value!r} is not a count")
        values.append(value)
    return (org, *values)  # type: ignore[return-value]


def _with_units(section: Label) -> Label:
    out = Label(kind=section.kind)
    units = {k[:-6]: v for k, v in section.pairs() if k.endswith("__UNIT")}
    for key, value in section.pairs():
        if key.endswith("__UNIT"):
            continue
        if key.endswith("__PTR"):
            out.append("^" + key[:-5], value)
            continue
        unit = units.get(key)
        if unit is not None:
            if isinstance(value, tuple) and isinstance(unit, tuple) and len(unit) == len(value):
                value = tuple(Quantity(v, str(u)) for v, u in zip(value, unit))
            elif isinstance(unit, str):
                value = Quantity(value, unit)
        out.append(key, value)
    return out


_SAMPLE_TYPES = {("u", "<"): "UNSIGNED_INTEGER", ("u", ">"): "UNSIGNED_INTEGER",
                 ("u", "|"): "UNSIGNED_INTEGER",
                 ("i", ">"): "MSB_INTEGER", ("i", "<"): "LSB_INTEGER",
                 ("f", ">"): "IEEE_REAL", ("f", "<"): "PC_REAL"}
_STORAGE = {"BSQ": "BAND_SEQUENTIAL", "BIL": "LINE_INTERLEAVED", "BIP": "SAMPLE_INTERLEAVED"}


def to_label(vicar: VicarLabel, *, source: str) -> Label:
    """An ODL-shaped view of a VICAR label, so one field mapping serves both.

    The IDENTIFICATION property is merged at the top level (where ODL keeps those keys), other
    properties become groups, IMAGE_DATA becomes the IMAGE object completed from the system items,
    ``KEY__UNIT`` becomes a :class:`~rovercam.products.odl.Quantity`, ``KEY__PTR`` a ``^KEY``.
    """
    label = Label()
    for key, value in vicar.system.items():
        label.append(key, value)
    image = Label(kind="OBJECT")
    org, nl, ns, nb, _, _ = vicar_layout(vicar.system, source=source)
    dtype = vicar_dtype(vicar.system, source=source)
    image.append("LINES", nl)
    image.append("LINE_SAMPLES", ns)
    image.append("BANDS", nb)
    image.append("SAMPLE_TYPE", _SAMPLE_TYPES[(dtype.kind, dtype.str[0])])
    image.append("SAMPLE_BITS", dtype.itemsize * 8)
    image.append("BAND_STORAGE_TYPE", _STORAGE[org])
    for name, section in vicar.properties.pairs():
        section = _with_units(section)
        if name == "IDENTIFICATION":
            for key, value in section.pairs():
                label.append(key, value)
        elif name == "IMAGE_DATA":
            for key, value in section.pairs():
                if key not in image:
                    image.append(key, value)
        else:
            label.append(name, section)
    label.append("IMAGE", image)
    return label
