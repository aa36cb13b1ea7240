"""The catalog database: products and their ingest state, runs, published outputs, lineage.

SQLAlchemy 2.0 over the schema in :mod:`rovercam.catalog.schema`; SQLite by default
(``sqlite:///catalog.db`` or a plain file path), PostgreSQL by URL. Every method runs in its own
transaction and returns frozen records, never live ORM objects, so results can cross process
boundaries and outlive the session.

Re-recording is idempotent: the same (product_id, sha256) updates its row, the same output id
replaces its row and lineage.
"""
from __future__ import annotations

import datetime as _dt
import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, delete, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from rovercam import layout
from rovercam.catalog.schema import LineageRow, OutputRow, ProductRow, RunRow
from rovercam.errors import CatalogError, StorageError

__all__ = [
    "Catalog",
    "ProductRecord",
    "RunRecord",
    "OutputRecord",
    "LineageRecord",
    "ProductState",
    "RunStatus",
    "open_existing",
]

log = logging.getLogger(__name__)

ProductState = Literal["ingested", "quarantined", "processed"]
RunStatus = Literal["running", "completed", "failed", "cancelled", "crashed"]


@dataclass(frozen=True, slots=True)
class ProductRecord:
    """A row of ``products`` (see :class:`rovercam.catalog.schema.ProductRow`)."""

    product_id: str
    sha256: str
    sol: int | None
    instrument: str | None
    product_type: str | None
    path: str | None
    state: ProductState
    reason: str | None
    sclk: float | None
    start_time: _dt.datetime | None
    recorded_at: _dt.datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A row of ``runs``."""

    run_id: str
    flow: str
    sol: int | None
    started_at: _dt.datetime
    finished_at: _dt.datetime | None
    status: RunStatus
    config_hash: str
    software_version: str
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """A row of ``outputs``: one published version of an output."""

    output_id: str
    name: str
    kind: str
    sol: int
    instrument: str | None
    version: int
    storage_keys: dict[str, str]
    stac_key: str | None
    created_at: _dt.datetime
    run_id: str | None
    mission: str | None = None
    start_time: _dt.datetime | None = None
    end_time: _dt.datetime | None = None
    checksums: dict[str, str] = field(default_factory=dict)
    calibration_level: int | None = None  # 0 raw .. 3 absolute (docs/calibration.md)
    units: str | None = None


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """One input product (id and sha256) of an output."""

    output_id: str
    product_id: str
    product_sha256: str


def _utc(t: _dt.datetime | None) -> _dt.datetime | None:
    """Aware UTC datetime; naive values are taken as UTC (SQLite drops the zone)."""
    if t is None:
        return None
    if t.tzinfo is None:
        return t.replace(tzinfo=_dt.timezone.utc)
    return t.astimezone(_dt.timezone.utc)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def output_record(r: OutputRow) -> OutputRecord:
    """The frozen record of an ``outputs`` row."""
    return OutputRecord(
        r.output_id, r.name, r.kind, r.sol, r.instrument, r.version, dict(r.storage_keys),
        r.stac_key, _utc(r.created_at), r.run_id, r.mission, _utc(r.start_time),
        _utc(r.end_time), dict(r.checksums or {}), r.calibration_level, r.units,
    )


def product_record(r: ProductRow) -> ProductRecord:
    """The frozen record of a ``products`` row."""
    return ProductRecord(
        r.product_id, r.sha256, r.sol, r.instrument, r.product_type, r.path, r.state, r.reason,
        r.sclk, _utc(r.start_time), _utc(r.recorded_at),
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")  # enforce FKs like PostgreSQL does
    cur.execute("PRAGMA busy_timeout=30000")  # ms; concurrent writers wait instead of failing
    cur.close()


class Catalog:
    """The catalog database.

    Parameters
    ----------
    url : str or Path
        SQLAlchemy URL (``"sqlite:///path/catalog.db"``, ``"postgresql+psycopg://..."``), or a
        plain file path, taken as a SQLite database. The schema is migrated to the newest
        revision on open (:func:`rovercam.catalog.migrate.upgrade`); catalogs made before
        migrations existed are adopted.
    create : bool, default True, keyword-only
        Create a missing SQLite database (and its folder). ``False`` is for readers: a missing
        SQLite file raises :class:`CatalogError` and nothing is written to disk.

    Raises
    ------
    CatalogError
        The database cannot be opened, or (``create=False``) the SQLite file does not exist.

    Examples
    --------
    >>> cat = Catalog("sqlite://")  # in memory
    >>> cat.record_product("NLF_0100_X", "ab" * 32, sol=100, instrument="NAVCAM_LEFT")
    >>> [p.state for p in cat.products(sol=100)]
    ['ingested']
    """

    def __init__(self, url: str | Path, *, create: bool = True):
        if isinstance(url, Path) or "://" not in str(url):
            url = f"sqlite:///{Path(url).expanduser().resolve()}"
        self.url = str(url)
        try:
            self.engine: Engine = create_engine(self.url)
            database = self.engine.url.database
            if self.engine.dialect.name == "sqlite" and database and database != ":memory:":
                path = Path(database).expanduser()
                if not create and not path.is_file():
                    self.engine.dispose()
                    raise CatalogError(f"{path}: no catalog here (run `rovercam demo`, `run` or `ingest` "
                                       "to make one, or name the storage root with --out)")
                path.parent.mkdir(parents=True, exist_ok=True)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            self.upgrade()
        except (SQLAlchemyError, OSError) as e:
            raise CatalogError(f"{self._safe_url()}: cannot open catalog ({e})") from e
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _safe_url(self) -> str:
        try:
            return self.engine.url.render_as_string(hide_password=True)
        except AttributeError:
            return self.url.split("@")[-1]

    def __repr__(self) -> str:
        return f"Catalog({self._safe_url()!r})"

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    def upgrade(self) -> str | None:
        """Migrate the schema to the newest revision; returns the revision it was at before."""
        from rovercam.catalog.migrate import upgrade

        return upgrade(self.engine)

    @contextmanager
    def _session(self, what: str) -> Iterator[Session]:
        session = self._sessions()
        try:
            with session.begin():
                yield session
        except SQLAlchemyError as e:
            raise CatalogError(f"{self._safe_url()}: {what} failed ({e.__class__.__name__}: {e})") from e
        finally:
            session.close()

    # ------------------------------------------------------------------ products

    def record_product(
        self,
        product_id: str,
        sha256: str,
        *,
        sol: int | None = None,
        instrument: str | None = None,
        product_type: str | None = None,
        path: str | None = None,
        state: ProductState = "ingested",
        reason: str | None = None,
        sclk: float | None = None,
        start_time: _dt.datetime | None = None,
    ) -> None:
        """Insert or update the product (product_id, sha256).

        Re-recording the same pair updates state, reason and the other fields given (None keeps
        the stored value); ``reason`` is cleared unless the state is ``'quarantined'``.
        """
        if state not in ("ingested", "quarantined", "processed"):
            raise ValueError(f"state must be ingested|quarantined|processed, got {state!r}")
        if not product_id or not sha256:
            raise ValueError(f"product_id and sha256 are required, got {product_id!r}, {sha256!r}")
        values = dict(
            sol=sol,
            instrument=instrument,
            product_type=product_type,
            path=path,
            sclk=sclk,
            start_time=_utc(start_time),
        )
        for attempt in (1, 2):
            try:
                with self._session(f"record_product {product_id}") as s:
                    row = s.scalars(
                        select(ProductRow).where(
                            ProductRow.product_id == product_id, ProductRow.sha256 == sha256
                        )
                    ).one_or_none()
                    if row is None:
                        row = ProductRow(product_id=product_id, sha256=sha256, **values)
                        s.add(row)
                    else:
                        for k, v in values.items():
                            if v is not None:
                                setattr(row, k, v)
                    row.state = state
                    row.reason = reason if state == "quarantined" else None
                    row.recorded_at = _now()
                return
            except CatalogError as e:
                # Two writers inserted the same pair at once: the second retries as an update.
                if attempt == 2 or not isinstance(e.__cause__, IntegrityError):
                    raise

    def record_quarantine(
        self, product_id_or_path: str, sha256: str, reason: str, *, sol: int | None = None
    ) -> None:
        """Record a product refused at ingest, with the reason (the file itself is kept)."""
        if not reason:
            raise ValueError("a quarantine needs a reason")
        self.record_product(
            str(product_id_or_path),
            sha256,
            sol=sol,
            path=str(product_id_or_path) if "/" in str(product_id_or_path) else None,
            state="quarantined",
            reason=reason,
        )

    def products(
        self, *, sol: int | None = None, state: ProductState | None = None, sha256: str | None = None
    ) -> list[ProductRecord]:
        """Products, optionally filtered (by sol, state, content hash), ordered by (sol, product_id, sha256)."""
        q = select(ProductRow)
        if sol is not None:
            q = q.where(ProductRow.sol == sol)
        if state is not None:
            q = q.where(ProductRow.state == state)
        if sha256 is not None:
            q = q.where(ProductRow.sha256 == sha256)
        q = q.order_by(ProductRow.sol, ProductRow.product_id, ProductRow.sha256)
        with self._session("products query") as s:
            return [product_record(r) for r in s.scalars(q)]

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        flow: str,
        *,
        sol: int | None = None,
        config_hash: str = "",
        software_version: str = "",
        run_id: str | None = None,
    ) -> str:
        """Record a run as ``'running'`` and return its id (a new uuid4 hex unless given)."""
        run_id = run_id or uuid.uuid4().hex
        with self._session(f"start_run {flow}") as s:
            s.add(
                RunRow(
                    run_id=run_id, flow=flow, sol=sol, started_at=_now(), status="running",
                    config_hash=config_hash, software_version=software_version, summary={},
                )
            )
        return run_id

    def finish_run(
        self,
        run_id: str,
        *,
        status: Literal["completed", "failed", "cancelled"] = "completed",
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Close a run with its final status and a JSON-ready summary."""
        if status not in ("completed", "failed", "cancelled"):
            raise ValueError(f"status must be completed|failed|cancelled, got {status!r}")
        with self._session(f"finish_run {run_id}") as s:
            row = s.get(RunRow, run_id)
            if row is None:
                raise CatalogError(f"{self._safe_url()}: no run {run_id!r}")
            row.status = status
            row.finished_at = _now()
            row.summary = dict(summary or {})

    def mark_run_crashed(self, run_id: str, *, reason: str) -> bool:
        """Record that a run's process died before it could finish the run.

        Only a run still ``'running'`` changes (to ``'crashed'``, finished now, ``reason`` in its
        summary); a run that finished meanwhile keeps its status. Called when another run takes
        over the sol of a dead one (:mod:`rovercam.catalog.lease`); an orchestrator that learns
        of a crashed flow run may call it too.

        Returns
        -------
        bool
            True when the run was ``'running'`` and is now ``'crashed'``; False when it was
            already finished or does not exist.
        """
        with self._session(f"mark_run_crashed {run_id}") as s:
            row = s.get(RunRow, run_id, with_for_update=True)
            if row is None or row.status != "running":
                return False
            row.status = "crashed"
            row.finished_at = _now()
            row.summary = {**dict(row.summary or {}), "status": "crashed", "reason": reason}
        log.warning("run %s marked crashed: %s", run_id, reason)
        return True

    def run(self, run_id: str) -> RunRecord:
        """One run by id."""
        with self._session(f"run {run_id}") as s:
            r = s.get(RunRow, run_id)
            if r is None:
                raise CatalogError(f"{self._safe_url()}: no run {run_id!r}")
            return RunRecord(
                r.run_id, r.flow, r.sol, _utc(r.started_at), _utc(r.finished_at), r.status,
                r.config_hash, r.software_version, dict(r.summary or {}),
            )

    def runs(self, *, sol: int | None = None, limit: int = 50) -> list[RunRecord]:
        """Processing runs, newest first (optionally of one sol), at most ``limit``."""
        with self._session("runs") as s:
            q = select(RunRow)
            if sol is not None:
                q = q.where(RunRow.sol == sol)
            q = q.order_by(RunRow.started_at.desc()).limit(limit)
            return [
                RunRecord(r.run_id, r.flow, r.sol, _utc(r.started_at), _utc(r.finished_at), r.status,
                          r.config_hash, r.software_version, dict(r.summary or {}))
                for r in s.scalars(q)
            ]

    # ------------------------------------------------------------------ outputs and lineage

    def record_output(
        self,
        *,
        name: str,
        kind: str,
        sol: int,
        version: int,
        storage_keys: Mapping[str, str],
        lineage: Mapping[str, str],
        instrument: str | None = None,
        stac_key: str | None = None,
        run_id: str | None = None,
        output_id: str | None = None,
        mission: str | None = None,
        start_time: _dt.datetime | None = None,
        end_time: _dt.datetime | None = None,
        checksums: Mapping[str, str] | None = None,
        calibration_level: int | None = None,
        units: str | None = None,
    ) -> str:
        """Record a published output version and its inputs, in one transaction.

        Parameters
        ----------
        name, kind, sol, version
            Identify the output (``kind`` e.g. ``"mosaic"``); unique together.
        storage_keys : mapping of str -> str
            File name -> store key of every published file.
        lineage : mapping of str -> str
            Input product id -> sha256 (``Provenance.inputs``).
        output_id : str, optional
            Defaults to ``rovercam.layout.output_id(kind, sol, name, version)``; publishers pass the STAC
            item id so catalog and STAC agree.
        mission, start_time, end_time : optional
            Mission id and the time span of the inputs (UTC), for searches by time.
        checksums : mapping of str -> str, optional
            File name -> sha256 of the published bytes (as in the store's version record).
        calibration_level, units : optional
            What the data are (:class:`rovercam.provenance.CalibrationLevel`).

        Returns
        -------
        str
            The output id. Recording the same id again replaces its row and lineage.
        """
        if version < 1:
            raise ValueError(f"version must be >= 1, got {version}")
        output_id = output_id or layout.output_id(kind, sol, name, version)
        for attempt in (1, 2):
            try:
                with self._session(f"record_output {output_id}") as s:
                    row = s.get(OutputRow, output_id, with_for_update=True)  # writers of one row take turns
                    if row is None:
                        row = OutputRow(output_id=output_id, created_at=_now())
                        s.add(row)
                    row.name, row.kind, row.sol, row.instrument, row.version = (
                        name, kind, sol, instrument, version,
                    )
                    row.storage_keys = dict(storage_keys)
                    row.stac_key = stac_key
                    row.run_id = run_id
                    row.mission = mission
                    row.start_time = _utc(start_time)
                    row.end_time = _utc(end_time)
                    row.checksums = dict(checksums) if checksums is not None else None
                    row.calibration_level, row.units = calibration_level, units
                    s.flush()
                    s.execute(delete(LineageRow).where(LineageRow.output_id == output_id))
                    s.add_all(
                        LineageRow(output_id=output_id, product_id=pid, product_sha256=sha)
                        for pid, sha in sorted(lineage.items())
                    )
                return output_id
            except CatalogError as e:
                # Two writers inserted the same version at once (one published it, the other
                # reused it): the second retries as an update of the row the first made.
                if attempt == 2 or not isinstance(e.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def outputs(self, *, sol: int | None = None, kind: str | None = None) -> list[OutputRecord]:
        """Published outputs, optionally filtered, ordered by (sol, kind, name, version)."""
        q = select(OutputRow)
        if sol is not None:
            q = q.where(OutputRow.sol == sol)
        if kind is not None:
            q = q.where(OutputRow.kind == kind)
        q = q.order_by(OutputRow.sol, OutputRow.kind, OutputRow.name, OutputRow.version)
        with self._session("outputs query") as s:
            return [output_record(r) for r in s.scalars(q)]

    def lineage(self, output_id: str) -> list[LineageRecord]:
        """Inputs of one output, ordered by product id."""
        q = (
            select(LineageRow)
            .where(LineageRow.output_id == output_id)
            .order_by(LineageRow.product_id, LineageRow.product_sha256)
        )
        with self._session(f"lineage {output_id}") as s:
            return [LineageRecord(r.output_id, r.product_id, r.product_sha256) for r in s.scalars(q)]


def open_existing(catalog_url: str, storage_root: str) -> Catalog:
    """The catalog at ``catalog_url``, opened for reading: neither it nor the storage root is
    created (read-only verbs and the viewer use this).

    Raises
    ------
    StorageError
        ``storage_root`` is a local folder that does not exist.
    CatalogError
        The SQLite catalog does not exist or cannot be opened.
    """
    if "://" not in storage_root and not Path(storage_root).is_dir():
        raise StorageError(f"{storage_root}: no storage root here (run `rovercam demo`, `run` or `ingest` to make "
                           "one, or name it with --out)")
    return Catalog(catalog_url, create=False)
