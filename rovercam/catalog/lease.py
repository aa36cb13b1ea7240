"""Per-sol leases: one run processes a sol at a time, whatever process, host or Prefect server
it runs under.

The lease is a row of ``sol_leases`` in the catalog (:class:`rovercam.catalog.schema.SolLeaseRow`),
so it needs no orchestrator: two ``rovercam run`` processes with their own ephemeral Prefect
servers, a scheduled deployment and a manual reprocess on another server all see the same row.

- **Acquire**: an ``INSERT`` of the sol's row; the primary key lets one writer win. The others
  wait, polling, for at most ``timeout_s`` (``[prefect] sol_lock_timeout_s``), logging who holds
  the sol and since when, then raise :class:`~rovercam.errors.SolBusyError`.
- **Renew**: the holder's heartbeat thread (:func:`hold_sol`) bumps ``heartbeat_at`` and
  ``beats`` every ``ttl_s / 4`` seconds.
- **Release**: ``DELETE`` of the row by its token, at the end of the run, also when it raised.
- **Take over**: a lease is *stale* when its heartbeat is older than ``ttl_s``, when a waiter
  has seen no heartbeat for ``ttl_s`` by its own clock, or when its holder ran on this host
  and that process is gone. A waiter takes a stale lease with an ``UPDATE`` conditioned on the
  token and heartbeat count it read, so two waiters cannot both take it, and marks the dead
  holder's catalog run ``crashed`` (:meth:`rovercam.catalog.Catalog.mark_run_crashed`).
  :func:`reap_stale_leases` does the same for sols no run asks for again.

Times are the database server's clock on PostgreSQL (hosts with skewed clocks still agree on a
heartbeat's age) and this host's UTC clock on SQLite (a SQLite catalog is shared by processes
of one host). docs/operations.md, "Concurrent runs of one sol", says how to operate it.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from rovercam.catalog.db import Catalog
from rovercam.catalog.schema import SolLeaseRow
from rovercam.errors import CatalogError, SolBusyError

__all__ = ["LeaseRecord", "SolLease", "acquire_sol", "hold_sol", "reap_stale_leases", "sol_holder", "sol_leases",
           "stale_reason"]

log = logging.getLogger(__name__)

#: Seconds between "still waiting" log lines of a waiting run.
_WAIT_LOG_S = 30.0


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """A row of ``sol_leases``: who holds a sol.

    Attributes
    ----------
    sol : int
    token : str
        This holding of the lease (a new uuid hex at every acquisition).
    run_id : str
        The holder's catalog run (its row may not exist yet: the lease comes first).
    flow, host, pid
        The holder's flow name, host name and process id.
    acquired_at, heartbeat_at : datetime
        UTC; ``heartbeat_at`` is the last renewal.
    beats : int
        Renewals so far.
    """

    sol: int
    token: str
    run_id: str
    flow: str
    host: str
    pid: int
    acquired_at: _dt.datetime
    heartbeat_at: _dt.datetime
    beats: int

    def describe(self) -> str:
        """``run <id> (<flow>, pid <pid>@<host>) since <acquired_at>``."""
        return (f"run {self.run_id} ({self.flow}, pid {self.pid}@{self.host}) since "
                f"{self.acquired_at:%Y-%m-%d %H:%M:%S} UTC")


def _utc(t: _dt.datetime) -> _dt.datetime:
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


def _record(row: Any) -> LeaseRecord:
    return LeaseRecord(row.sol, row.token, row.run_id, row.flow, row.host, row.pid, _utc(row.acquired_at),
                       _utc(row.heartbeat_at), row.beats)


def _db_now(conn: Connection) -> _dt.datetime:
    """The database server's time on PostgreSQL, this host's otherwise (UTC)."""
    if conn.dialect.name == "postgresql":
        return _utc(conn.scalar(select(func.now())))
    return _dt.datetime.now(_dt.timezone.utc)


@contextlib.contextmanager
def _connect(catalog: Catalog, what: str) -> Iterator[Connection]:
    """One short transaction on the catalog; database errors become :class:`CatalogError`."""
    try:
        with catalog.engine.begin() as conn:
            yield conn
    except IntegrityError:
        raise
    except SQLAlchemyError as e:
        raise CatalogError(f"{catalog!r}: {what} failed ({e.__class__.__name__}: {e})") from e


def sol_holder(catalog: Catalog, sol: int) -> LeaseRecord | None:
    """Who holds ``sol`` now, or None when it is free."""
    with _connect(catalog, f"sol {sol} lease") as conn:
        row = conn.execute(select(SolLeaseRow.__table__).where(SolLeaseRow.sol == sol)).one_or_none()
    return None if row is None else _record(row)


def sol_leases(catalog: Catalog) -> list[LeaseRecord]:
    """Every lease held now, by sol."""
    with _connect(catalog, "sol leases") as conn:
        rows = conn.execute(select(SolLeaseRow.__table__).order_by(SolLeaseRow.sol)).all()
    return [_record(r) for r in rows]


def _process_gone(host: str, pid: int) -> bool:
    """True when ``pid`` ran on this host and no longer exists (other hosts: unknown, False)."""
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def stale_reason(record: LeaseRecord, *, ttl_s: float, now: _dt.datetime | None = None) -> str | None:
    """Why ``record`` is stale, or None while its holder may be alive.

    Stale: its holder ran on this host and its process is gone, or its last heartbeat is more
    than ``ttl_s`` seconds before ``now`` (default: this host's UTC clock).
    """
    if _process_gone(record.host, record.pid):
        return f"process {record.pid} on {record.host} is gone"
    now = now or _dt.datetime.now(_dt.timezone.utc)
    age = (now - record.heartbeat_at).total_seconds()
    if age > ttl_s:
        return f"no heartbeat for {age:.0f} s (ttl {ttl_s:g} s)"
    return None


class SolLease:
    """A lease this process holds (made by :func:`acquire_sol`; :func:`hold_sol` renews it).

    Attributes
    ----------
    sol, run_id, token, flow
        What is held, for which run.
    lost : bool
        True once a renewal or the release found the row gone or owned by another run (the
        lease was taken over: this process was thought dead).
    """

    def __init__(self, catalog: Catalog, sol: int, token: str, run_id: str, flow: str):
        self.catalog, self.sol, self.token, self.run_id, self.flow = catalog, sol, token, run_id, flow
        self.lost = False
        self.released = False

    def __repr__(self) -> str:
        return f"SolLease(sol={self.sol}, run_id={self.run_id!r}, token={self.token!r})"

    def renew(self) -> bool:
        """Record a heartbeat; False (and ``lost``) when the lease is no longer ours."""
        with _connect(self.catalog, f"sol {self.sol} heartbeat") as conn:
            done = conn.execute(
                update(SolLeaseRow)
                .where(SolLeaseRow.sol == self.sol, SolLeaseRow.token == self.token)
                .values(heartbeat_at=_db_now(conn), beats=SolLeaseRow.beats + 1)
            ).rowcount
        if not done:
            self.lost = True
        return bool(done)

    def release(self) -> None:
        """Give the sol back (deleting only our own row); idempotent."""
        if self.released:
            return
        with _connect(self.catalog, f"sol {self.sol} release") as conn:
            done = conn.execute(
                delete(SolLeaseRow).where(SolLeaseRow.sol == self.sol, SolLeaseRow.token == self.token)
            ).rowcount
        self.released = True
        if not done:
            self.lost = True
            log.error("sol %d: lease of run %s had been taken over by another run before its release",
                      self.sol, self.run_id)
        else:
            log.info("sol %d: released by run %s", self.sol, self.run_id)


def _values(conn: Connection, sol: int, token: str, run_id: str, flow: str) -> dict[str, Any]:
    now = _db_now(conn)
    return dict(sol=sol, token=token, run_id=run_id, flow=flow, host=socket.gethostname(), pid=os.getpid(),
                acquired_at=now, heartbeat_at=now, beats=0)


def _try_insert(catalog: Catalog, sol: int, token: str, run_id: str, flow: str) -> bool:
    try:
        with _connect(catalog, f"sol {sol} lease") as conn:
            conn.execute(insert(SolLeaseRow).values(**_values(conn, sol, token, run_id, flow)))
    except IntegrityError:
        return False
    return True


def _try_take_over(catalog: Catalog, old: LeaseRecord, token: str, run_id: str, flow: str) -> bool:
    with _connect(catalog, f"sol {old.sol} takeover") as conn:
        values = _values(conn, old.sol, token, run_id, flow)
        values.pop("sol")
        done = conn.execute(
            update(SolLeaseRow)
            .where(SolLeaseRow.sol == old.sol, SolLeaseRow.token == old.token, SolLeaseRow.beats == old.beats)
            .values(**values)
        ).rowcount
    return bool(done)


def acquire_sol(catalog: Catalog, sol: int, *, run_id: str, flow: str, timeout_s: float, ttl_s: float,
                poll_s: float = 0.5) -> SolLease:
    """Take the lease of ``sol`` for ``run_id``, waiting up to ``timeout_s`` for its holder.

    Parameters
    ----------
    catalog : Catalog
    sol : int
    run_id : str
        The catalog run that will process the sol (its row may be created afterwards).
    flow : str
        The flow's name, shown to waiting runs.
    timeout_s : float
        Longest wait for another holder, seconds (0: do not wait).
    ttl_s : float
        Age of the last heartbeat after which a lease is stale, seconds (its holder renews every
        ``ttl_s / 4``).
    poll_s : float, default 0.5
        Seconds between attempts (with up to 50 % random jitter).

    Returns
    -------
    SolLease
        Held; renew it (or use :func:`hold_sol`) and release it.

    Raises
    ------
    SolBusyError
        Another live run held the sol for all of ``timeout_s``.
    CatalogError
        The catalog cannot be reached.

    Notes
    -----
    Taking over a stale lease marks its holder's run ``crashed``
    (:meth:`rovercam.catalog.Catalog.mark_run_crashed`).
    """
    if timeout_s < 0 or ttl_s <= 0 or poll_s <= 0:
        raise ValueError(f"need timeout_s >= 0, ttl_s > 0 and poll_s > 0, got {timeout_s}, {ttl_s}, {poll_s}")
    token = uuid.uuid4().hex
    started = time.monotonic()
    seen: tuple[str, int] | None = None
    seen_since = started
    logged = -_WAIT_LOG_S
    while True:
        current = sol_holder(catalog, sol)  # read first: a refused INSERT is an error in PostgreSQL's log
        if current is None:
            if _try_insert(catalog, sol, token, run_id, flow):
                log.info("sol %d: acquired by run %s (%s)", sol, run_id, flow)
                return SolLease(catalog, sol, token, run_id, flow)
            continue  # another run inserted first: read who
        now = time.monotonic()
        if (current.token, current.beats) != seen:
            seen, seen_since = (current.token, current.beats), now
        with _connect(catalog, f"sol {sol} clock") as conn:
            why = stale_reason(current, ttl_s=ttl_s, now=_db_now(conn))
        if why is None and now - seen_since > ttl_s:
            why = f"no heartbeat seen for {now - seen_since:.0f} s (ttl {ttl_s:g} s)"
        if why is not None and _try_take_over(catalog, current, token, run_id, flow):
            log.warning("sol %d: took over the stale lease of %s: %s", sol, current.describe(), why)
            catalog.mark_run_crashed(current.run_id, reason=f"its process stopped while it held sol {sol} ({why}); "
                                     f"run {run_id} took the sol over")
            return SolLease(catalog, sol, token, run_id, flow)
        waited = now - started
        if waited >= timeout_s:
            raise SolBusyError(f"sol {sol}: held by {current.describe()}; waited {waited:.0f} s "
                               f"([prefect] sol_lock_timeout_s = {timeout_s:g})")
        if now - logged >= _WAIT_LOG_S:
            logged = now
            log.warning("sol %d: held by %s; run %s waits (up to %.0f s more)", sol, current.describe(), run_id,
                        timeout_s - waited)
        time.sleep(min(poll_s * (1 + 0.5 * random.random()), max(timeout_s - waited, 0.01)))


def reap_stale_leases(catalog: Catalog, *, ttl_s: float) -> list[LeaseRecord]:
    """Remove every stale lease (:func:`stale_reason`) and mark its run ``crashed``.

    For a sol that no run asks for again (a waiting run takes a stale lease over by itself): an
    orchestrator that finds a crashed flow run, or an operator, calls this to close the
    catalog's side. Returns the leases removed.
    """
    reaped = []
    for lease in sol_leases(catalog):
        with _connect(catalog, f"sol {lease.sol} clock") as conn:
            why = stale_reason(lease, ttl_s=ttl_s, now=_db_now(conn))
        if why is None:
            continue
        with _connect(catalog, f"sol {lease.sol} reap") as conn:
            done = conn.execute(delete(SolLeaseRow).where(
                SolLeaseRow.sol == lease.sol, SolLeaseRow.token == lease.token, SolLeaseRow.beats == lease.beats)
            ).rowcount
        if done:
            log.warning("sol %d: removed the stale lease of %s: %s", lease.sol, lease.describe(), why)
            catalog.mark_run_crashed(lease.run_id, reason=f"its process stopped while it held sol {lease.sol} ({why})")
            reaped.append(lease)
    return reaped


def _heartbeat(lease: SolLease, every_s: float, stop: threading.Event) -> None:
    while not stop.wait(every_s):
        try:
            if not lease.renew():
                log.error("sol %d: run %s lost its lease (another run took it over); stop this run",
                          lease.sol, lease.run_id)
                return
        except CatalogError as e:  # a passing catalog outage: the ttl leaves room for the next beat
            log.warning("sol %d: heartbeat of run %s failed: %s", lease.sol, lease.run_id, e)


@contextlib.contextmanager
def hold_sol(catalog: Catalog, sol: int, *, run_id: str, flow: str, timeout_s: float, ttl_s: float,
             poll_s: float = 0.5) -> Iterator[SolLease]:
    """Hold the lease of ``sol`` for the ``with`` block (see :func:`acquire_sol` for the arguments).

    A daemon thread renews the lease every ``ttl_s / 4`` seconds. On leaving the block the lease
    is released, also when the block raised; when it raised (an error, a cancellation, an
    interrupt) and the run ``run_id`` is still ``'running'`` in the catalog (nothing recorded
    its outcome), the run is marked ``crashed``.

    Examples
    --------
    >>> from rovercam.catalog import Catalog
    >>> cat = Catalog("sqlite://")
    >>> with hold_sol(cat, 100, run_id="r1", flow="doc", timeout_s=5, ttl_s=30) as lease:
    ...     sol_holder(cat, 100).run_id
    'r1'
    >>> sol_holder(cat, 100) is None
    True
    """
    lease = acquire_sol(catalog, sol, run_id=run_id, flow=flow, timeout_s=timeout_s, ttl_s=ttl_s, poll_s=poll_s)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lease, ttl_s / 4, stop), daemon=True,
                            name=f"rovercam-sol{sol}-lease")
    beat.start()
    try:
        yield lease
    except BaseException as exc:
        with contextlib.suppress(CatalogError):
            catalog.mark_run_crashed(run_id, reason=f"ended by {type(exc).__name__} before recording its outcome")
        raise
    finally:
        stop.set()
        beat.join()
        try:
            lease.release()
        except CatalogError as e:  # the lease goes stale after ttl_s; the block's own error wins
            log.error("sol %d: release by run %s failed: %s", sol, run_id, e)
