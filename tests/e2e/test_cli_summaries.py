"""After `rovercam demo`, at 80 and 200 columns: the summary and the catalog listings print every
id and path whole (each path on one line; no id cut to `…`)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _rovercam(*args: str, columns: int, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PREFECT_HOME": str(home), "COLUMNS": str(columns), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1"}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "rovercam.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    base = tmp_path_factory.mktemp("summaries")
    out = _rovercam("demo", "--profile", "tiny", "--sol", "3", "--out", str(base / "out"), columns=80,
                    home=base / "prefect-home")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return base, out.stdout


def test_the_demo_summary_prints_whole_names_and_paths_at_80_columns(demo):
    base, stdout = demo
    assert "…" not in stdout
    lines = [line.strip() for line in stdout.splitlines()]
    files = sorted(p for p in (base / "out").rglob("*") if (p.suffix == ".tif" or p.name.endswith("_preview.png")) and "mosaics" in p.parts)
    assert files
    for path in files:
        assert str(path) in lines, f"{path} not on a line of its own"
    names = {p.parent.parent.name for p in files}
    assert len(names) == 2 and all(any(line.startswith(n) for line in lines) for n in names)


@pytest.mark.parametrize("columns", [80, 200])
def test_catalog_outputs_prints_whole_ids(demo, columns):
    base, _ = demo
    home = base / "prefect-home"
    listed = _rovercam("catalog", "outputs", "--json", "--out", str(base / "out"), columns=columns, home=home)
    ids = [o["output_id"] for o in json.loads(listed.stdout)]
    assert len(ids) == 2
    text = _rovercam("catalog", "outputs", "--out", str(base / "out"), columns=columns, home=home).stdout
    assert "…" not in text and all(i in text for i in ids)
    lineage = _rovercam("catalog", "lineage", ids[1], "--out", str(base / "out"), columns=columns, home=home)
    assert lineage.returncode == 0 and ids[1] in lineage.stdout and "…" not in lineage.stdout


def test_reprocess_after_the_demo_refuses_an_unknown_camera_naming_the_sols_cameras(demo):
    base, _ = demo
    out = _rovercam("reprocess", "--sol", "3", "--cameras", "FOOCAM", "--out", str(base / "out"), columns=80,
                    home=base / "prefect-home-2")
    assert out.returncode == 2 and out.stderr.strip().endswith("cameras: NAVCAM_LEFT, NAVCAM_RIGHT")
    assert not (base / "prefect-home-2").exists() or not any((base / "prefect-home-2").iterdir())
