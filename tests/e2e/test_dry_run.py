"""``rovercam reprocess --dry-run`` on a generated sol processed through the flows (Prefect test
server): the plan says what the flow then does, with the reason, and the dry run itself neither
starts Prefect nor writes anything.

Truth: what the flows did before (everything stored), the settings each case changes, and the
reprocess-sol report after the plan.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SOL = 23
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def processed(tmp_path_factory, prefect_harness):
    """A tiny sol through ingest-sol, then reprocess-sol with nothing changed (its sol record)."""
    from rovercam.config import load
    from rovercam.synth import generate_sol

    from rovercam_flows.ingest_sol import ingest_sol
    from rovercam_flows.reprocess_sol import reprocess_sol

    base = tmp_path_factory.mktemp("dry-run")
    sol_dir, root = base / "drop", base / "store"
    generate_sol(sol_dir, sol=SOL, profile="tiny", seed=4, settings=load(environ={}))
    search = [str(sol_dir / "calibration"), str(REPO / "data" / "calibration")]
    overrides = {"storage": {"root": str(root)}, "calibration": {"search_path": search}}
    [first] = ingest_sol(source=str(sol_dir / "raw"), sol=SOL, overrides=overrides)
    again = reprocess_sol(sol=SOL, overrides=overrides)
    config = base / "rovercam.toml"
    config.write_text(f'[storage]\nroot = "{root}"\n[calibration]\nsearch_path = {search!r}\n'.replace("'", '"'))
    feather = base / "feather.toml"
    feather.write_text(config.read_text() + '[mosaic]\nblend = "feather"\n')
    return {"root": root, "overrides": overrides, "first": first, "again": again, "config": config,
            "feather": feather}


def _plan(processed, overrides=None, **kw):
    from rovercam.config import load
    from rovercam.pipeline import plan_reprocess

    return plan_reprocess(SOL, load(overrides={**processed["overrides"], **(overrides or {})}), **kw)


def _by_stage(plan):
    out: dict[str, list] = {}
    for d in plan:
        out.setdefault(d.stage, []).append(d)
    return out


def test_after_a_run_the_plan_reuses_everything(processed):
    plan = _by_stage(_plan(processed))
    report = processed["again"]
    assert report["reused"]["calibrate"] == len(report["ingested"]) == 8  # the run before the plan
    assert [len(plan[s]) for s in ("sol", "ingest", "calibrate", "mosaic", "publish")] == [1, 8, 8, 2, 2]
    assert all(d.reuse for ds in plan.values() for d in ds), [str(d) for ds in plan.values() for d in ds]
    assert all(processed["root"].joinpath(d.stored).is_file() for ds in plan.values() for d in ds)


def test_a_mosaic_setting_recomputes_mosaics_because_of_the_configuration(processed):
    plan = _by_stage(_plan(processed, {"mosaic": {"blend": "feather"}}))
    assert all(d.reuse for d in plan["ingest"] + plan["calibrate"])
    for d in plan["sol"] + plan["mosaic"] + plan["publish"]:
        assert d.action == "compute" and d.reason.endswith(": configuration [mosaic])"), str(d)
        assert "no stored" in d.reason


def test_naming_calibrate_recomputes_calibrate_onward_because_asked(processed):
    plan = _by_stage(_plan(processed, stages=["calibrate"]))
    assert all(d.reuse for d in plan["ingest"])
    assert {d.reason for s in ("calibrate", "mosaic", "publish") for d in plan[s]} == {"refresh asked for this stage"}
    assert plan["sol"][0].reason == "refresh asked for calibrate, stereo, mosaic, publish"


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def _dry_run(processed, config: Path, *extra: str) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom rovercam.cli import main\n"
            f"rc = main(['--config', {str(config)!r}, 'reprocess', '--sol', '{SOL}', '--dry-run', *{list(extra)!r}])\n"
            "assert 'prefect' not in sys.modules and 'rovercam_flows' not in sys.modules, 'Prefect was imported'\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "COLUMNS": "400"}  # one table row per line
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=300)


def test_the_command_prints_the_plan_without_prefect_and_writes_nothing(processed):
    before = _tree(processed["root"])
    out = _dry_run(processed, processed["config"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    header = next(line for line in out.stdout.splitlines() if "┃" in line)
    assert all(h in header for h in ("stage", "unit", "decision", "reason"))
    rows = [line for line in out.stdout.splitlines() if "│" in line]
    # 1 sol + 8 ingest + 8 calibrate + 4 stereo + 1 terrain + 2 mosaic + 2 publish
    assert sum(" reuse " in r for r in rows) == 26 and "compute" not in out.stdout.split("┘")[0]
    changed = _dry_run(processed, processed["feather"])
    assert changed.returncode == 0, changed.stderr[-3000:]
    mosaic_rows = [r for r in changed.stdout.splitlines() if r.startswith("│ mosaic")]
    assert len(mosaic_rows) == 2 and all("compute" in r and "configuration [mosaic]" in r for r in mosaic_rows)
    asked = _dry_run(processed, processed["config"], "--stages", "calibrate")
    asked_rows = [r for r in asked.stdout.splitlines() if "│" in r and "refresh asked for this stage" in r]
    assert asked.returncode == 0 and len(asked_rows) == 17  # 8 frames, 4 pairs, 1 terrain, 2 mosaics, 2 publishes
    assert _tree(processed["root"]) == before  # nothing written, not even the catalog


def test_the_flow_then_does_what_the_plan_said(processed):
    from rovercam_flows.reprocess_sol import reprocess_sol

    feather = {"mosaic": {"blend": "feather"}}
    plan = _by_stage(_plan(processed, feather))
    report = reprocess_sol(sol=SOL, overrides={**processed["overrides"], **feather})
    assert report["reused"]["calibrate"] == sum(d.reuse for d in plan["calibrate"]) == 8
    assert report["reused"]["mosaic"] == sum(d.reuse for d in plan["mosaic"]) == 0
    assert not report["failed"] and sorted(p["version"] for p in report["published"]) == [2, 2]
    assert all(d.reuse for d in _plan(processed, feather))  # and now it is all stored
