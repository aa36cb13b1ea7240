"""Reliability campaign, orchestrator faults: the Prefect server or a sol run killed mid-run.

A real ``prefect server start`` (its own home and SQLite database, a fixed port) and a small
generated sol (:func:`rovercam.testing.prepare_sol`: eight NAVCAM frames, one truncated, two
mosaics). One uninterrupted ``rovercam run`` of the sol measures when its flow run appears on the
server (S: the command's start-up before that is imports) and the run's length T; then each trial
(:func:`rovercam.testing.kill_trial`) runs the sol into a fresh storage root, kills with SIGKILL
at a moment drawn uniformly from S..0.95 T (seeded, so reruns draw the same moments), and runs
the same command again. Server trials restart the server on the same port and
database right after the kill. ``quick`` (what CI can afford, ~2 minutes here: the server's start
and six runs of the sol) skips T and kills at two fixed moments instead: the server while the
calibrate stage runs, the run process once it has published its first mosaic. docs/reliability.md, "Orchestrator faults", says what happens and
what the user sees.

Figures:

- ``server_kill_trials``, ``server_kill_recovered``: trials that killed the server, and those
  after which the rerun completed the sol with nothing published twice, a clean
  :func:`rovercam.publish.audit_published`, no orphan output, and the killed run shown finished
  (:attr:`rovercam.testing.TrialOutcome.recovered`);
- ``server_kills_landed``, ``worker_kills_landed``: trials whose kill landed before the first run
  had finished (a run faster than T may finish first; such a trial checks only the rerun);
- ``server_kill_runs_carried_on``: server trials whose first run still completed (the kill
  landed where the run did not need the server, or it outlasted the restart);
- ``worker_kill_trials``, ``worker_kill_recovered``: the same with the ``rovercam run`` process
  (the flow run and its task threads) killed;
- ``crashed_runs``: trials whose first run stopped (killed, or ended by the lost server);
  ``crashed_runs_shown_crashed``: of those, the ones the server shows Crashed or Failed after the
  rerun (target: all; never Running);
- ``rerun_reused_units``: frames, mosaics and published outputs the reruns took from the killed
  runs' work; ``rerun_reused_whole_sol``: reruns that found the sol complete (the first run had
  carried on) and reused its record;
- ``orphan_outputs``: committed versions in the stores without a catalog row, all trials
  (:func:`rovercam.testing.orphan_outputs`); ``republished_outputs``: outputs published twice;
  ``audit_problems``: audit lines, all trials;
- ``catalog_runs_left_running``: trials after which the killed run's *catalog* run record still
  says ``running`` (the catalog's own lease takeover marks those; docs/reliability.md);
- ``orchestrator_startup_s``, ``orchestrator_run_s``: S and T (None when quick); ``orchestrator_elapsed_s``: wall time of this part;
- ``orchestrator_problems``: what went wrong otherwise (empty when all is well).
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path

from rovercam.testing import PrefectServer, TrialOutcome, kill_trial, prepare_sol
from rovercam.testing.orchestrator import published_at_least, stage_running, timed_run

__all__ = ["run"]

log = logging.getLogger(__name__)

SOL = 12
SEED = 18  # the number: the kill moments are the same on every run of the campaign


def run(*, quick: bool = False, workdir: Path) -> dict[str, object]:
    """Kill trials against a real Prefect server; ``quick``: one trial of each kind at fixed
    moments, else five of each at random moments."""
    t0 = time.perf_counter()
    workdir = Path(workdir)
    trials = 1 if quick else 5
    rng = random.Random(SEED)
    source = prepare_sol(workdir / "drop", sol=SOL)
    outcomes: list[TrialOutcome] = []
    shown = window = None
    with PrefectServer(workdir / "prefect") as server:
        if quick:  # no time for the window run: kill mid-calibrate (server) and mid-publish (run)
            server_root, run_root = workdir / "server-kill-0" / "store", workdir / "run-kill-0" / "store"
            plan = [("server", server_root, stage_running(server.api, "calibrate")),
                    ("run", run_root, published_at_least(run_root, 1, "mosaic"))]
        else:
            shown, window = timed_run(server, source, workdir / "uninterrupted" / "store", sol=SOL)
            plan = [(victim, workdir / f"{victim}-kill-{i}" / "store", rng.uniform(shown, 0.95 * window))
                    for victim in ("server", "run") for i in range(trials)]
        for victim, root, at in plan:
            outcomes.append(kill_trial(server, source, root, sol=SOL, victim=victim, kill_at=at))
    return figures(outcomes, shown=shown, window=window, elapsed=time.perf_counter() - t0)


def figures(outcomes: list[TrialOutcome], *, shown: float | None, window: float | None,
            elapsed: float) -> dict[str, object]:
    """The part's flat figures from its trials (see the module docstring)."""
    server = [o for o in outcomes if o.victim == "server"]
    worker = [o for o in outcomes if o.victim == "run"]
    stopped = [o for o in outcomes if o.first_exit != 0]
    problems = [f"{o.victim} kill at {o.kill_at_s:.1f} s: {p}" for o in outcomes for p in o.problems]
    problems += [f"{o.victim} kill at {o.kill_at_s:.1f} s: not recovered (rerun exit {o.rerun_exit}, "
                 f"{o.rerun_status or 'no catalog run'}, first run {o.first_state or '?'}, republished "
                 f"{o.republished}, audit {o.audit[:2]}, orphans {o.orphans[:2]})"
                 for o in outcomes if not o.recovered and not o.problems]
    return {
        "server_kill_trials": len(server),
        "server_kill_recovered": sum(o.recovered for o in server),
        "server_kills_landed": sum(o.killed for o in server),
        "server_kill_runs_carried_on": sum(o.killed and o.first_exit == 0 for o in server),
        "worker_kill_trials": len(worker),
        "worker_kill_recovered": sum(o.recovered for o in worker),
        "worker_kills_landed": sum(o.killed for o in worker),
        "crashed_runs": len(stopped),
        "crashed_runs_shown_crashed": sum(o.first_state in ("CRASHED", "FAILED") for o in stopped),
        "rerun_reused_units": sum(v for o in outcomes for k, v in o.reused.items() if k != "sol"),
        "rerun_reused_whole_sol": sum(bool(o.reused.get("sol")) for o in outcomes),
        "orphan_outputs": sum(len(o.orphans) for o in outcomes),
        "republished_outputs": sum(len(o.republished) for o in outcomes),
        "audit_problems": sum(len(o.audit) for o in outcomes),
        "catalog_runs_left_running": sum(o.catalog_run_left_running for o in outcomes),
        "orchestrator_startup_s": round(shown, 1) if shown is not None else None,
        "orchestrator_run_s": round(window, 1) if window is not None else None,
        "orchestrator_elapsed_s": round(elapsed, 1),
        "orchestrator_problems": problems,
    }
