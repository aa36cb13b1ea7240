"""Catalog searches: outputs and products by sol, camera, kind, mission and time; lineage.

Every filter is optional and they combine with AND. Times are compared in UTC; an output
matches a time window when its input time span overlaps it (``start_time <= until`` and
``end_time >= since``), so outputs recorded without times never match a time filter.

Filters are bound parameters, never SQL text, and a camera prefix has its LIKE wildcards
escaped: ``camera="%"`` matches an instrument named ``%``, not every instrument. A sol outside
``0..MAX_SOL`` (:data:`rovercam.layout.MAX_SOL`), a reversed sol range, or a text filter with
control characters or over 255 characters is refused with :class:`~rovercam.errors.ParameterError`
(PostgreSQL would refuse a 64-bit sol or a NUL byte with a database error instead).
"""
from __future__ import annotations

import datetime as _dt
import operator
from dataclasses import dataclass

from sqlalchemy import Select, or_, select

from rovercam.catalog.db import (
    Catalog,
    LineageRecord,
    OutputRecord,
    ProductRecord,
    ProductState,
    RunRecord,
    output_record,
    product_record,
)
from rovercam.catalog.schema import LineageRow, OutputRow, ProductRow
from rovercam.errors import CatalogError, ParameterError
from rovercam.layout import MAX_SOL

__all__ = ["search_outputs", "search_products", "lineage_report", "Lineage", "LineageInput"]


@dataclass(frozen=True, slots=True)
class LineageInput:
    """One input of an output, with its catalog row when it was ingested into this catalog."""

    link: LineageRecord
    product: ProductRecord | None


@dataclass(frozen=True, slots=True)
class Lineage:
    """What made an output: its row, the run that published it, and its inputs."""

    output: OutputRecord
    run: RunRecord | None
    inputs: list[LineageInput]


def _utc(t: _dt.datetime | None, what: str) -> _dt.datetime | None:
    if t is None:
        return None
    if not isinstance(t, _dt.datetime):
        raise TypeError(f"{what} must be a datetime, got {t!r}")
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def _check_sol(sol: int, what: str) -> int:
    """``sol`` as an int in ``0..MAX_SOL`` (numpy integers too; no bool, float or string)."""
    try:
        value = operator.index(sol)
    except TypeError:
        value = -1
    if isinstance(sol, bool) or not 0 <= value <= MAX_SOL:
        raise ParameterError(f"{what}: a sol is a whole number 0 to {MAX_SOL}, got {str(sol)[:40]!r}")
    return value


def _check_text(value: str | None, what: str) -> str | None:
    """A text filter as given; refused when it is no string, too long, or has control characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ParameterError(f"{what}: at most 255 printable characters, got {str(value)[:40]!r}")
    return value


def _sol_filter(q: Select, column, sol: int | None, sols: tuple[int, int] | None) -> Select:
    if sol is not None:
        q = q.where(column == _check_sol(sol, "sol"))
    if sols is not None:
        lo, hi = (_check_sol(s, "sols") for s in sols)
        if lo > hi:
            raise ParameterError(f"sols: the range must be (low, high), got {tuple(sols)}")
        q = q.where(column >= lo, column <= hi)
    return q


def _like_literal(text: str) -> str:
    """``text`` with LIKE's wildcards (``%``, ``_``) and the escape character made literal."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _camera_filter(q: Select, column, camera: str | None) -> Select:
    """Exact instrument id, or every instrument starting with ``camera_`` (NAVCAM -> NAVCAM_LEFT)."""
    if _check_text(camera, "camera"):
        cam = camera.upper()
        q = q.where(or_(column == cam, column.like(f"{_like_literal(cam)}\\_%", escape="\\")))
    return q


def search_outputs(
    catalog: Catalog,
    *,
    sol: int | None = None,
    sols: tuple[int, int] | None = None,
    camera: str | None = None,
    kind: str | None = None,
    mission: str | None = None,
    since: _dt.datetime | None = None,
    until: _dt.datetime | None = None,
    latest_only: bool = False,
) -> list[OutputRecord]:
    """Published outputs matching every given filter, ordered by (sol, kind, name, version).

    Parameters
    ----------
    catalog : Catalog
    sol : int, optional
        One sol.
    sols : (int, int), optional
        Inclusive sol range.
    camera : str, optional
        Instrument id (``"NAVCAM_LEFT"``) or its family prefix (``"NAVCAM"``); case-insensitive.
    kind : str, optional
        Output kind (``"mosaic"``).
    mission : str, optional
        Mission id (``"M2020"``).
    since, until : datetime, optional
        Time window (UTC; naive values are taken as UTC) the inputs' time span must overlap.
    latest_only : bool
        Keep only the highest version of each (kind, sol, name).

    Returns
    -------
    list of OutputRecord
    """
    since, until = _utc(since, "since"), _utc(until, "until")
    q = _sol_filter(select(OutputRow), OutputRow.sol, sol, sols)
    q = _camera_filter(q, OutputRow.instrument, camera)
    if _check_text(kind, "kind"):
        q = q.where(OutputRow.kind == kind)
    if _check_text(mission, "mission"):
        q = q.where(OutputRow.mission == mission)
    if since is not None:
        q = q.where(OutputRow.end_time >= since)
    if until is not None:
        q = q.where(OutputRow.start_time <= until)
    q = q.order_by(OutputRow.sol, OutputRow.kind, OutputRow.name, OutputRow.version)
    with catalog._session("search outputs") as s:
        rows = [output_record(r) for r in s.scalars(q)]
    if latest_only:
        newest = {(r.kind, r.sol, r.name): r for r in rows}  # rows ascend by version
        rows = [r for r in rows if newest[(r.kind, r.sol, r.name)] is r]
    return rows


def search_products(
    catalog: Catalog,
    *,
    sol: int | None = None,
    sols: tuple[int, int] | None = None,
    camera: str | None = None,
    state: ProductState | None = None,
    since: _dt.datetime | None = None,
    until: _dt.datetime | None = None,
) -> list[ProductRecord]:
    """Ingested products matching every given filter, ordered by (sol, product_id, sha256).

    ``since``/``until`` bound the product's START_TIME (UTC, inclusive); ``camera`` as in
    :func:`search_outputs`.
    """
    since, until = _utc(since, "since"), _utc(until, "until")
    q = _sol_filter(select(ProductRow), ProductRow.sol, sol, sols)
    q = _camera_filter(q, ProductRow.instrument, camera)
    if _check_text(state, "state"):
        q = q.where(ProductRow.state == state)
    if since is not None:
        q = q.where(ProductRow.start_time >= since)
    if until is not None:
        q = q.where(ProductRow.start_time <= until)
    q = q.order_by(ProductRow.sol, ProductRow.product_id, ProductRow.sha256)
    with catalog._session("search products") as s:
        return [product_record(r) for r in s.scalars(q)]


def lineage_report(catalog: Catalog, output_id: str) -> Lineage:
    """The output, its run and its inputs (each with its product row when ingested here).

    Raises
    ------
    CatalogError
        No output with this id.
    """
    with catalog._session(f"lineage {output_id}") as s:
        row = s.get(OutputRow, output_id)
        if row is None:
            raise CatalogError(f"{catalog._safe_url()}: no output {output_id!r}")
        output = output_record(row)
        pairs = s.execute(
            select(LineageRow, ProductRow)
            .outerjoin(ProductRow, (ProductRow.product_id == LineageRow.product_id)
                       & (ProductRow.sha256 == LineageRow.product_sha256))
            .where(LineageRow.output_id == output_id)
            .order_by(LineageRow.product_id, LineageRow.product_sha256)
        ).all()
        inputs = [
            LineageInput(LineageRecord(link.output_id, link.product_id, link.product_sha256),
                         product_record(prod) if prod is not None else None)
            for link, prod in pairs
        ]
    run = catalog.run(output.run_id) if output.run_id else None
    return Lineage(output, run, inputs)
