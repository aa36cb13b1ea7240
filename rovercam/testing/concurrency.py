"""Concurrent runs of one sol: processes that hold and race for a sol, and an audit of what they
left behind.

:func:`hold_sol_process` starts a process that opens a catalog run and holds the sol's lease
(:mod:`rovercam.catalog.lease`) until it is killed, as a scheduled run would that dies mid-sol.
:func:`rovercam_process` starts one ``rovercam`` command (``run``, ``reprocess``) with its own
Prefect home, so each talks to its own ephemeral Prefect server. :func:`audit_sol` then checks
the catalog against the store: duplicate rows, versions lost or published twice, staging left
over, leases still held, runs by status. The tests and ``rovercam bench reliability`` share them.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SolAudit", "audit_sol", "hold_sol_process", "rovercam_process", "wait_for_text"]


@dataclass(frozen=True)
class SolAudit:
    """What runs of one sol left in the catalog and the store (:func:`audit_sol`).

    Attributes
    ----------
    product_rows, output_rows : int
        Rows of the sol in ``products`` and ``outputs``.
    duplicate_rows : int
        Extra rows for one (product_id, sha256) or one (kind, name, version): 0 when consistent.
    versions : dict of str -> list of int
        Store prefix -> its committed versions.
    lost_versions : int
        Versions committed in the store without a catalog row, catalog rows without a committed
        version, and prefixes whose ``LATEST`` is not their highest committed version.
    versions_published_twice : int
        Versions whose files (the STAC item aside, which names its version) equal those of the
        version before: the same result published again instead of reused. (Going back to an
        older result is a new version by design, and not counted.)
    version_gaps : int
        Numbers below a prefix's highest version that hold no committed version.
    leftover_staging : int
        Entries left in the store's staging area ``.tmp/`` (half-written work or outputs).
    leases_held : int
        Sol leases still in the catalog.
    runs : dict of str -> int
        The sol's catalog runs by status.
    problems : tuple of str
        One line per inconsistency found.
    """

    product_rows: int
    output_rows: int
    duplicate_rows: int
    versions: dict[str, list[int]]
    lost_versions: int
    versions_published_twice: int
    version_gaps: int
    leftover_staging: int
    leases_held: int
    runs: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def _excess(keys: Iterable[object]) -> int:
    return sum(n - 1 for n in Counter(keys).values() if n > 1)


def audit_sol(root: str | Path, catalog_url: str, sol: int, *,
              storage_options: Mapping[str, object] | None = None) -> SolAudit:
    """Check what the runs of ``sol`` left: the catalog at ``catalog_url`` against the store at ``root``.

    See :class:`SolAudit` for the figures; every one of them but ``product_rows``,
    ``output_rows``, ``versions`` and ``runs`` is 0 when the runs left one consistent result.
    """
    from rovercam.catalog import Catalog, sol_leases
    from rovercam.storage import Store

    store = Store(str(root), storage_options=dict(storage_options or {}))
    problems: list[str] = []
    with Catalog(catalog_url) as cat:
        products = cat.products(sol=sol)
        outputs = cat.outputs(sol=sol)
        runs = Counter(r.status for r in cat.runs(sol=sol, limit=100_000))
        leases = [lease for lease in sol_leases(cat) if lease.sol == sol]
    duplicates = _excess((p.product_id, p.sha256) for p in products) + _excess(
        (o.kind, o.name, o.version) for o in outputs)
    if duplicates:
        problems.append(f"{duplicates} duplicate catalog row(s)")
    cataloged: dict[str, set[int]] = {}
    for o in outputs:
        key = next(iter(o.storage_keys.values()), "")
        cataloged.setdefault(key.rsplit(f"/v{o.version}/", 1)[0], set()).add(o.version)
    mark = f"sol{sol:05d}/"
    prefixes = sorted({p for p in store.published_prefixes() if p.startswith(mark)} | set(cataloged))
    versions, lost, twice, gaps = {}, 0, 0, 0
    for prefix in prefixes:
        committed = store.committed_versions(prefix)
        versions[prefix] = sorted(committed)
        rows = cataloged.get(prefix, set())
        for v in sorted(set(committed) - rows):
            problems.append(f"{prefix} v{v}: in the store, no catalog row")
        for v in sorted(rows - set(committed)):
            problems.append(f"{prefix} v{v}: cataloged, not committed in the store")
        lost += len(set(committed) ^ rows)
        latest = store.latest(prefix)
        if committed and (latest is None or latest.version != max(committed)):
            lost += 1
            problems.append(f"{prefix}: LATEST is {latest and latest.version}, highest committed is {max(committed)}")
        before: tuple[int, tuple] | None = None
        for v, files in committed.items():  # ascending
            content = tuple(sorted((n, s) for n, s in files.items() if not n.endswith(".json")))
            if before is not None and content == before[1]:
                twice += 1
                problems.append(f"{prefix} v{v}: the same files as v{before[0]} before it")
            before = (v, content)
        gaps += len(set(range(1, max(committed, default=0) + 1)) - set(committed))
    staging = store.root.rstrip("/") + "/.tmp"
    try:
        leftover = len(store.fs.ls(staging, detail=False))
    except FileNotFoundError:
        leftover = 0
    if leftover:
        problems.append(f"{leftover} staging entr(ies) left in .tmp/")
    if leases:
        problems.append(f"lease still held: {leases[0].describe()}")
    return SolAudit(len(products), len(outputs), duplicates, versions, lost, twice, gaps, leftover, len(leases),
                    dict(runs), tuple(problems))


def _env(prefect_home: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
           "PREFECT_LOGGING_EXTRA_LOGGERS": "rovercam", **(extra or {})}
    for name in ("PREFECT_API_URL", "ROVERCAM_CONFIG"):
        if name not in (extra or {}):
            env.pop(name, None)
    return env


def rovercam_process(args: list[str], *, workdir: Path, name: str, env: Mapping[str, str] | None = None,
                     cwd: Path | None = None) -> subprocess.Popen:
    """Start ``python -m rovercam.cli *args`` with its own Prefect home under ``workdir``.

    Its output goes to ``workdir/<name>.log`` (:func:`wait_for_text` reads it). Without
    ``PREFECT_API_URL`` in ``env`` each such process runs its flows on its own ephemeral server.
    """
    home = workdir / f"prefect-{name}"
    home.mkdir(parents=True, exist_ok=True)
    log = open(workdir / f"{name}.log", "w")  # noqa: SIM115 - the child owns it; closed with the process object
    return subprocess.Popen([sys.executable, "-m", "rovercam.cli", *args], env=_env(home, env), cwd=cwd,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def hold_sol_process(catalog_url: str, sol: int, *, run_id: str, flow: str = "ingest-sol", ttl_s: float = 60,
                     timeout_s: float = 120) -> subprocess.Popen:
    """Start a process that records a ``running`` run ``run_id`` of ``sol`` and holds the sol's
    lease (renewing it) until it is killed; returns once it holds the lease.

    Raises
    ------
    RuntimeError
        The process ended or did not hold the lease within ``timeout_s`` seconds.
    """
    code = textwrap.dedent(f"""
        import time
        from rovercam.catalog import Catalog, hold_sol
        cat = Catalog({catalog_url!r})
        cat.start_run({flow!r}, sol={sol}, run_id={run_id!r})
        with hold_sol(cat, {sol}, run_id={run_id!r}, flow={flow!r}, timeout_s=0, ttl_s={ttl_s!r}):
            print("holding", flush=True)
            time.sleep(86400)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + timeout_s
    line = proc.stdout.readline() if proc.stdout else ""  # blocks until it holds the lease or ends
    if line.strip() != "holding" or time.monotonic() > deadline:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise RuntimeError(f"the holder of sol {sol} did not start: {err.strip()[-500:]}")
    return proc


def wait_for_text(logs: Iterable[Path], text: str, procs: Iterable[subprocess.Popen], *, timeout_s: float) -> bool:
    """Wait until every log in ``logs`` contains ``text``; False on timeout or when a process ended first."""
    logs, procs = list(logs), list(procs)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(p.exists() and text in p.read_text(errors="replace") for p in logs):
            return True
        if any(p.poll() is not None for p in procs):
            return False
        time.sleep(0.5)
    return False
