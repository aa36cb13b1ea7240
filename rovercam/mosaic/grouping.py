"""Grouping frames into mosaics: one mosaic per distinct key (site, drive, sequence, camera), and
one per band count within a key whose frames differ in band count (grayscale and colour frames
of one sequence make two mosaics, never a broadcasting error)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

__all__ = ["group_key", "group_records", "mosaic_name", "split_by_bands"]

T = TypeVar("T")


def group_key(record: Any, fields: Sequence[str]) -> tuple[Hashable, ...]:
    """The grouping key of one record (an object or a mapping) over ``fields``."""
    get = record.get if isinstance(record, Mapping) else (lambda f: getattr(record, f, None))
    return tuple(get(f) for f in fields)


def group_records(
    records: Iterable[T], fields: Sequence[str], *, describe: Callable[[T], Any] | None = None
) -> dict[tuple[Hashable, ...], list[T]]:
    """Records grouped by ``fields``, groups and members in first-seen order.

    ``describe`` maps a record to the object its fields are read from (default: the record).
    """
    groups: dict[tuple[Hashable, ...], list[T]] = defaultdict(list)
    for r in records:
        groups[group_key(describe(r) if describe else r, fields)].append(r)
    return dict(groups)


def split_by_bands(records: Sequence[T], bands: Callable[[T], int]) -> list[tuple[int | None, list[T]]]:
    """One group's records split by band count, for one mosaic per band count.

    Parameters
    ----------
    records : sequence
        The members of one group (:func:`group_records`).
    bands : callable ``record -> int``
        The band count of a record's calibrated frame.

    Returns
    -------
    list of (int or None, list)
        ``[(None, records)]`` when every record has the same band count (no split, so the
        mosaic keeps its unsuffixed name); else one ``(band count, members)`` per band count,
        in increasing band count, members in their given order. Pass the band count to
        :func:`mosaic_name` as ``bands``.

    >>> split_by_bands(["a1", "b3", "c1"], lambda r: int(r[1]))
    [(1, ['a1', 'c1']), (3, ['b3'])]
    >>> split_by_bands(["a3", "b3"], lambda r: int(r[1]))
    [(None, ['a3', 'b3'])]
    """
    by: dict[int, list[T]] = defaultdict(list)
    for r in records:
        by[int(bands(r))].append(r)
    if len(by) <= 1:
        return [(None, list(records))]
    return [(b, by[b]) for b in sorted(by)]


def mosaic_name(key: tuple[Hashable, ...], fields: Sequence[str], projection: str = "cylindrical", *,
                bands: int | None = None) -> str:
    """A stable, filesystem-safe mosaic name from a group key, e.g. ``site4_drive218_NCAM00100_NAVCAM_LEFT_CYL``.

    ``bands`` (only for a group split by :func:`split_by_bands`) adds the band count before the
    projection: ``..._NAVCAM_LEFT_1BAND_CYL`` and ``..._NAVCAM_LEFT_3BAND_CYL``.
    """
    parts = []
    for f, v in zip(fields, key):
        if v is None:
            continue
        parts.append(f"{f}{v}" if f in ("site", "drive") else str(v))
    if bands is not None:
        parts.append(f"{int(bands)}BAND")
    parts.append(projection[:3].upper())
    return "_".join("".join(c if c.isalnum() or c in "-" else "-" for c in p) for p in parts)
