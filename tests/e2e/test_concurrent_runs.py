"""Two runs of one sol at once, in separate processes with their own Prefect servers: a scheduled
``rovercam run`` (ingest-sol) and a manual ``rovercam reprocess --force`` (reprocess-sol, with a
changed mosaic setting so that it publishes new versions), while a third run that held the sol
is killed. They leave one consistent result.

Truth: the catalog against the store (:func:`rovercam.testing.concurrency.audit_sol`): no
duplicate rows, every mosaic at versions 1 and 2 exactly once (v2 from the reprocess), nothing
staged left, no lease held, the killed run ``crashed`` and every other run ``completed``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SOL = 31
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def processed(tmp_path_factory, prefect_harness):
    """A generated sol, ingested once (v1 of its mosaics, stereo pairs and terrain published)."""
    from rovercam.config import load
    from rovercam.synth import generate_sol

    from rovercam_flows.ingest_sol import ingest_sol

    base = tmp_path_factory.mktemp("concurrent")
    sol_dir, root = base / "drop", base / "store"
    generate_sol(sol_dir, sol=SOL, profile="tiny", seed=4, settings=load(environ={}))
    [first] = ingest_sol(source=str(sol_dir / "raw"), sol=SOL, overrides={"storage": {"root": str(root)}})
    assert first["published"] and first["status"] == "completed"
    return {"base": base, "root": root, "raw": sol_dir / "raw", "url": f"sqlite:///{root / 'catalog.sqlite'}",
            "outputs": len(first["published"]) + len(first["stereo"])
            + sum("skipped" not in t for t in first["terrain"])}


def test_scheduled_ingest_and_forced_reprocess_at_once_leave_one_consistent_result(processed):
    from rovercam.testing.concurrency import audit_sol, hold_sol_process, rovercam_process, wait_for_text

    base, root = processed["base"], str(processed["root"])
    holder = hold_sol_process(processed["url"], SOL, run_id="killed-scheduled-run")
    runs = [rovercam_process(["run", "--input", str(processed["raw"]), "--sol", str(SOL), "--out", root],
                             workdir=base, name="ingest", cwd=REPO),
            rovercam_process(["reprocess", "--sol", str(SOL), "--force", "--out", root], workdir=base,
                             name="reprocess", env={"ROVERCAM_MOSAIC__BLEND": "feather"}, cwd=REPO)]
    logs = [base / "ingest.log", base / "reprocess.log"]
    try:
        both_waited = wait_for_text(logs, f"sol {SOL}: held by run killed-scheduled-run", runs, timeout_s=420)
        holder.kill()  # the run holding the sol dies (SIGKILL) while both others wait for it
        holder.wait(30)
        codes = [p.wait(900) for p in runs]
    finally:
        for p in (holder, *runs):
            if p.poll() is None:
                p.kill()
                p.wait(30)
    text = "\n".join(log.read_text(errors="replace") for log in logs)
    assert codes == [0, 0], text[-4000:]
    assert both_waited, text[-4000:]
    assert "took over the stale lease of run killed-scheduled-run" in text

    audit = audit_sol(root, processed["url"], SOL)
    assert audit.problems == ()
    assert (audit.duplicate_rows, audit.lost_versions, audit.versions_published_twice) == (0, 0, 0)
    assert (audit.leftover_staging, audit.leases_held, audit.version_gaps) == (0, 0, 0)
    assert len(audit.versions) == processed["outputs"]  # mosaics, stereo pairs and the terrain
    # v2 of each mosaic: the reprocess (with feather blending), once; the stereo pairs and the
    # terrain do not depend on [mosaic], so the reprocess republished the same bytes as v1
    mosaics = {p: v for p, v in audit.versions.items() if "/mosaics/" in p}
    assert len(mosaics) == 2 and all(v == [1, 2] for v in mosaics.values()), audit.versions
    assert all(v == [1] for p, v in audit.versions.items() if p not in mosaics), audit.versions
    assert audit.runs == {"completed": 3, "crashed": 1}

    shown = subprocess.run([sys.executable, "-m", "rovercam.cli", "catalog", "runs", "--out", root],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert shown.returncode == 0 and "crashed" in shown.stdout and "killed-sch" in shown.stdout, shown.stdout
