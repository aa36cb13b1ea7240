"""Inverse companding tables (ILUTs): 256 code -> DN values, their files, and a designed table.

Cameras digitise 11-12 bits and compand onboard to 8-bit codes with roughly square-root steps;
the ground undoes it with the inverse table (docs/calibration.md#decompanding). A table file holds
256 lines ``code value`` (the VICAR ``ilut/<HOST>_<LUT>.txt`` format, e.g. ``M20_LUT2_v2a.txt``),
optionally after a PDS3 text label that ends with a line ``END`` (``MSL_DECOMPAND0.TXT``).

Tables are immutable :class:`InverseLUT` records carrying the sha256 of their source bytes, so
provenance can name exactly which table was applied.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rovercam.errors import CalibrationError

__all__ = ["InverseLUT", "load_lut", "write_lut", "find_lut", "design_sqrt_lut", "LUT_SIZE"]

log = logging.getLogger(__name__)

LUT_SIZE = 256
"""Number of codes in an inverse table (8-bit companded values)."""

_MAX_FILE_BYTES = 1 << 20  # a 256-line table with a label is a few kB; refuse anything huge


@dataclass(frozen=True, slots=True, eq=False)
class InverseLUT:
    """An inverse companding table: 8-bit code -> DN.

    Parameters
    ----------
    name : str
        Table name, by default the file stem (``"M20_LUT2_v2a"``).
    values : (256,) array_like of int
        DN for each code 0..255; non-decreasing, within 0..65535. Stored as a read-only uint16
        copy.
    source : Path or None
        File the table was read from, None for a designed table.
    sha256 : str
        Hex digest of the source file's bytes; for a designed table, of the bytes
        :func:`write_lut` writes for it (so writing and re-reading keeps the digest).

    Raises
    ------
    CalibrationError
        Wrong count, values out of range or decreasing.

    Notes
    -----
    Equality and hashing use (name, sha256, values), so tables can key caches.
    """

    name: str
    values: NDArray[np.uint16]
    source: Path | None = None
    sha256: str = field(default="")

    def __post_init__(self) -> None:
        where = str(self.source) if self.source is not None else self.name
        values = _validated_values(self.values, where)
        object.__setattr__(self, "values", values)
        if not self.sha256:
            digest = hashlib.sha256(_format_table(values).encode("ascii")).hexdigest()
            object.__setattr__(self, "sha256", digest)

    @property
    def dn_max(self) -> int:
        """Largest DN the table produces (value of code 255)."""
        return int(self.values[-1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InverseLUT):
            return NotImplemented
        return (
            self.name == other.name
            and self.sha256 == other.sha256
            and bool(np.array_equal(self.values, other.values))
        )

    def __hash__(self) -> int:
        return hash((self.name, self.sha256, self.values.tobytes()))

    def __repr__(self) -> str:
        return (
            f"InverseLUT(name={self.name!r}, 0->{int(self.values[0])}, 255->{self.dn_max}, "
            f"source={str(self.source) if self.source else None!r}, sha256={self.sha256[:12]}...)"
        )


def _validated_values(values: ArrayLike, where: str) -> NDArray[np.uint16]:
    """Check a code->DN table and return it as a read-only uint16 array."""
    a = np.asarray(values)
    if a.ndim != 1 or a.shape[0] != LUT_SIZE:
        raise CalibrationError(
            where, f"an inverse LUT needs {LUT_SIZE} values, got shape {a.shape}"
        )
    if a.dtype.kind not in "ui":
        if a.dtype.kind != "f" or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise CalibrationError(
                where, f"inverse LUT values must be integers, got dtype {a.dtype}"
            )
    if a.min() < 0 or a.max() > np.iinfo(np.uint16).max:
        raise CalibrationError(
            where, f"inverse LUT values must lie in 0..65535, got {a.min()}..{a.max()}"
        )
    steps = np.diff(a.astype(np.int64))
    if np.any(steps < 0):
        code = int(np.argmax(steps < 0)) + 1
        raise CalibrationError(
            where,
            f"inverse LUT decreases at code {code} ({int(a[code - 1])} -> {int(a[code])}); "
            "it must be non-decreasing",
        )
    out = a.astype(np.uint16, copy=True)
    out.setflags(write=False)
    return out


def _format_table(values: NDArray[np.uint16]) -> str:
    return "".join(f"{code} {int(v)}\n" for code, v in enumerate(values))


def _strip_pds3_label(lines: list[str]) -> list[str]:
    """Drop a leading PDS3 text label (up to and including its ``END`` line)."""
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if not first.upper().startswith("PDS_VERSION_ID"):
        return lines
    for i, ln in enumerate(lines):
        if ln.strip().upper() == "END":
            return lines[i + 1 :]
    return []  # a label with no END: no table follows; the caller reports the count


def load_lut(path: str | os.PathLike[str], *, name: str | None = None) -> InverseLUT:
    """Read an inverse LUT file.

    Parameters
    ----------
    path : path-like
        A text file of 256 lines ``code value`` (whitespace separated, codes 0..255 in order),
        optionally preceded by a PDS3 text label ending in a line ``END``. Blank lines and lines
        starting with ``#`` are ignored.
    name : str, keyword-only, optional
        Table name; the file stem by default.

    Returns
    -------
    InverseLUT
        With ``source`` = the path and ``sha256`` of the file's bytes.

    Raises
    ------
    CalibrationError
        The file is missing, not ASCII text, has a line that is not two integers, codes out of
        order, not 256 rows, values outside 0..65535 or decreasing.

    Examples
    --------
    >>> lut = load_lut("data/calibration/luts/M20_LUT2_v2a.txt")  # doctest: +SKIP
    >>> int(lut.values[128]), lut.dn_max  # doctest: +SKIP
    (1329, 4095)
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise CalibrationError(str(p), f"file is {size} bytes; an inverse LUT is a few kB")
        raw = p.read_bytes()
    except OSError as exc:
        raise CalibrationError(str(p), f"cannot read inverse LUT: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CalibrationError(str(p), f"not an ASCII text table (byte {exc.start})") from exc

    lines = _strip_pds3_label(text.splitlines())
    codes: list[int] = []
    values: list[int] = []
    for lineno, line in enumerate(lines, start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split()
        try:
            if len(parts) != 2:
                raise ValueError
            code, value = int(parts[0]), int(parts[1])
        except ValueError:
            raise CalibrationError(
                str(p), f"table line {lineno} is {s[:40]!r}; expected two integers 'code value'"
            ) from None
        if code != len(codes):
            raise CalibrationError(
                str(p),
                f"table line {lineno} has code {code}, expected {len(codes)} "
                "(codes 0..255 in order)",
            )
        codes.append(code)
        values.append(value)
    if len(values) != LUT_SIZE:
        raise CalibrationError(
            str(p), f"found {len(values)} table rows, an inverse LUT has {LUT_SIZE}"
        )
    lut = InverseLUT(
        name=name if name is not None else p.stem,
        values=np.asarray(values, dtype=np.int64),
        source=p,
        sha256=hashlib.sha256(raw).hexdigest(),
    )
    log.debug("loaded inverse LUT %s from %s (255 -> %d)", lut.name, p, lut.dn_max)
    return lut


def write_lut(path: str | os.PathLike[str], lut: InverseLUT) -> Path:
    """Write a table as 256 lines ``code value`` (atomically: temporary file, then rename).

    Parameters
    ----------
    path : path-like
        Destination file; its folder must exist.
    lut : InverseLUT
        The table. A designed table's ``sha256`` equals the digest of the written file.

    Returns
    -------
    Path
        The written path.
    """
    p = Path(path)
    data = _format_table(lut.values).encode("ascii")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, size: int) -> InverseLUT:
    # The key includes mtime and size, so a replaced file is read again.
    return load_lut(path)


def find_lut(name: str, search_path: Sequence[str | os.PathLike[str]]) -> InverseLUT:
    """Find and load the inverse LUT called ``name`` in a list of calibration folders.

    Parameters
    ----------
    name : str
        Table name as the label or camera config gives it: ``"M20_LUT2"``, ``"LUT2"``,
        ``"MSL_DECOMPAND0"``.
    search_path : sequence of path-like
        Folders, searched in order; missing folders are skipped. Not recursive.

    Returns
    -------
    InverseLUT
        Loaded once per (file, mtime, size) and then served from a cache; the record is
        immutable, so sharing it is safe.

    Raises
    ------
    CalibrationError
        No folder holds the table, or the only matches are ambiguous.

    Notes
    -----
    In each folder, in order, the first rule that matches wins:

    1. a file named ``<name>.txt`` (case-insensitive, so ``MSL_DECOMPAND0.TXT`` matches);
    2. a file named ``<PREFIX>_<name>.txt`` with a one-token prefix (the VICAR
       ``<HOST_ID>_<LUT>`` convention: ``LUT2`` finds ``M20_LUT2.txt``). More than one such file in
       the folder is an error, not a guess: pass the qualified name.

    Version suffixes are not guessed (``M20_LUT2`` does not find ``M20_LUT2_v2a.txt``): the camera
    configuration maps label names to dated files (docs/calibration.md#decompanding: "choose
    by name and date").
    """
    wanted = f"{name}.txt".lower()
    suffix = f"_{name}.txt".lower()
    searched: list[str] = []
    for folder in search_path:
        d = Path(folder)
        if not d.is_dir():
            continue
        searched.append(str(d))
        files = sorted(f for f in d.iterdir() if f.is_file())
        exact = [f for f in files if f.name.lower() == wanted]
        prefixed = [
            f
            for f in files
            if f.name.lower().endswith(suffix) and "_" not in f.name[: -len(suffix)]
        ]
        chosen = exact or prefixed
        if len(chosen) > 1:
            names = ", ".join(f.name for f in chosen)
            raise CalibrationError(str(d), f"inverse LUT {name!r} is ambiguous: {names}")
        if chosen:
            st = chosen[0].stat()
            return _load_cached(str(chosen[0].resolve()), st.st_mtime_ns, st.st_size)
    where = ", ".join(searched) if searched else "no existing folder"
    raise CalibrationError(
        name, f"no inverse LUT file {name}.txt (or <PREFIX>_{name}.txt) in {where}"
    )


def design_sqrt_lut(
    name: str,
    *,
    in_bits: int = 12,
    floor_dn: int = 127,
    literal_codes: int = 2,
    top_dn: int | None = None,
    max_dn: int | None = None,
    pedestal_dn: float = 60.0,
) -> InverseLUT:
    """Design an inverse table shaped like the flight tables (docs/calibration.md#decompanding).

    Codes ``0 .. literal_codes-1`` map to themselves; code ``literal_codes`` jumps to the dark
    floor ``floor_dn``; codes up to 254 follow a square-root law (steps grow with the square root
    of the signal above a pedestal, the shot-noise match):
    ``DN(c) = p + (sqrt(floor_dn - p) + beta * (c - literal_codes))**2`` with ``p = pedestal_dn``
    and beta chosen so that code 254 gives ``top_dn``; code 255 gives ``max_dn``. Values are
    rounded and kept strictly increasing (at least 1 DN per code).

    With the defaults the table is within 5 % of M20 LUT2 (v2a) at every code >= 2; with
    ``in_bits=11, floor_dn=2, pedestal_dn=0, top_dn=2025, max_dn=2033`` within 4 DN of MMM LUT0.

    Parameters
    ----------
    name : str
        Table name (used for the file name by the synthetic generator).
    in_bits : int, keyword-only
        Bit depth the table expands to, 8..16.
    floor_dn : int, keyword-only
        DN of the first non-literal code (the dark floor; 127 for M20 LUT2).
    literal_codes : int, keyword-only
        How many codes from 0 map to themselves (2 for M20 LUT2).
    top_dn : int, keyword-only, optional
        DN of code 254; default ``round(0.9853 * max_dn)`` (M20 LUT2: 4035 / 4095).
    max_dn : int, keyword-only, optional
        DN of code 255; default ``2**in_bits - 1``.
    pedestal_dn : float, keyword-only
        Offset of the square-root law, 0 <= pedestal_dn <= floor_dn (60 fits M20 LUT2).

    Returns
    -------
    InverseLUT
        ``source`` None, ``sha256`` of its two-column text.

    Raises
    ------
    ValueError
        For parameters that cannot make a strictly increasing table.

    Examples
    --------
    >>> lut = design_sqrt_lut("SYN_LUT2")
    >>> [int(lut.values[c]) for c in (0, 1, 2, 255)]
    [0, 1, 127, 4095]
    """
    if not 8 <= in_bits <= 16:
        raise ValueError(f"in_bits must be 8..16, got {in_bits}")
    if max_dn is None:
        max_dn = (1 << in_bits) - 1
    if top_dn is None:
        top_dn = round(0.9853 * max_dn)
    if not 0 <= literal_codes < 254:
        raise ValueError(f"literal_codes must be 0..253, got {literal_codes}")
    if not (literal_codes <= floor_dn and floor_dn + (254 - literal_codes) <= top_dn < max_dn):
        raise ValueError(
            f"need literal_codes <= floor_dn and floor_dn + codes <= top_dn < max_dn <= "
            f"2**in_bits - 1; got floor_dn={floor_dn}, top_dn={top_dn}, max_dn={max_dn}"
        )
    if not 0 <= pedestal_dn <= floor_dn:
        raise ValueError(f"pedestal_dn must be in 0..floor_dn, got {pedestal_dn}")
    if max_dn > (1 << in_bits) - 1:
        raise ValueError(f"max_dn {max_dn} exceeds {in_bits} bits")
    codes = np.arange(LUT_SIZE, dtype=np.float64)
    values = codes.copy()  # literal codes
    ramp = np.arange(literal_codes, 255)
    root_floor = np.sqrt(floor_dn - pedestal_dn)
    beta = (np.sqrt(top_dn - pedestal_dn) - root_floor) / (254 - literal_codes)
    values[ramp] = np.round(pedestal_dn + (root_floor + beta * (ramp - literal_codes)) ** 2)
    values[255] = max_dn
    # At least one DN per code, so every code is distinct (compand(decompand(c)) == c).
    idx = np.arange(LUT_SIZE)
    values = np.maximum.accumulate(values - idx) + idx
    if values[254] >= max_dn:
        raise ValueError(
            f"floor_dn={floor_dn} leaves no room for 256 distinct codes below {max_dn}"
        )
    return InverseLUT(name=name, values=values.astype(np.int64))
