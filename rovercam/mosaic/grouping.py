"""Grouping frames into mosaics: one mosaic per distinct key (site, drive, sequence, camera)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

__all__ = ["group_key", "group_records", "mosaic_name"]

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


def mosaic_name(key: tuple[Hashable, ...], fields: Sequence[str], projection: str = "cylindrical") -> str:
    """A stable, filesystem-safe mosaic name from a group key, e.g. ``site4_drive218_NCAM00100_NAVCAM_LEFT_CYL``."""
    parts = []
    for f, v in zip(fields, key):
        if v is None:
            continue
        parts.append(f"{f}{v}" if f in ("site", "drive") else str(v))
    parts.append(projection[:3].upper())
    return "_".join("".join(c if c.isalnum() or c in "-" else "-" for c in p) for p in parts)
