"""End to end the way an operator runs it: `prefect server start`, `rovercam serve`, runs triggered
through the API, artifacts read back through the API, and the UI's run page in a real Chromium.

Set ROVERCAM_UPDATE_SCREENSHOTS=1 to refresh docs/images/prefect-ui-reprocess.png from this test.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SOL = 12


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A Prefect server and `rovercam serve` against it, with a generated sol as the source."""
    from rovercam.config import load
    from rovercam.synth import generate_sol

    base = tmp_path_factory.mktemp("served")
    root, sol_dir = base / "store", base / "drop" / f"sol{SOL:05d}"
    generate_sol(sol_dir, sol=SOL, profile="tiny", seed=4, settings=load())
    config = base / "rovercam.toml"
    config.write_text(f'[storage]\nroot = "{root}"\n\n[calibration]\n'
                      f'search_path = ["{sol_dir / "calibration"}", "{REPO / "data" / "calibration"}"]\n')
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(base / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               DO_NOT_TRACK="1", ROVERCAM_CONFIG=str(config), PREFECT_API_URL=api)
    env.pop("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", None)
    bindir = Path(sys.executable).parent
    logs = base / "logs"
    logs.mkdir()
    server = subprocess.Popen([str(bindir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env={**{k: v for k, v in env.items() if k != "PREFECT_API_URL"},
                                   "PREFECT_UI_API_URL": api},  # the UI's browser-side API address
                              cwd=base,
                              stdout=open(logs / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    procs = [server]
    try:
        _wait_http(f"{api}/health", server, 180)
        serve = subprocess.Popen([str(bindir / "rovercam"), "serve"], env=env, cwd=base,
                                 stdout=open(logs / "serve.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(serve)
        yield {"api": api, "ui": f"http://127.0.0.1:{port}", "root": root, "drop": sol_dir.parent, "env": env,
               "serve": serve, "logs": logs}
    finally:
        for p in reversed(procs):
            _stop(p)


def _run(served, name: str, parameters: dict, timeout: float = 600):
    """Trigger a run of deployment ``flow/name`` through the API and wait for its final state.

    Synchronous client: Playwright's sync API owns an event loop in this thread later on.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 120
        while True:  # `rovercam serve` registers the deployments shortly after it starts
            found = client.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name.split("/")[1]])))
            if found:
                break
            if served["serve"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("rovercam serve did not register deployments:\n"
                                   + (served["logs"] / "serve.log").read_text()[-3000:])
            time.sleep(1)
        run = client.create_flow_run_from_deployment(found[0].id, parameters=parameters)
        deadline = time.monotonic() + timeout
        while True:
            run = client.read_flow_run(run.id)
            if run.state and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} still {run.state.name if run.state else '?'} after {timeout} s")
            time.sleep(1)


def _artifacts(flow_run_id):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


@pytest.fixture(scope="module")
def reprocessed(served):
    # Prefect reads PREFECT_API_URL once per settings context, so point this process at the
    # server through a settings context (an os.environ change after import would be ignored).
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: served["api"]}):
        ingest = _run(served, "ingest-sol/ingest-latest", {"source": str(served["drop"]), "sol": SOL})
        reprocess = _run(served, "reprocess-sol/reprocess", {"sol": SOL})
        arts = _artifacts(reprocess.id)
    yield ingest, reprocess, arts


def test_deployments_run_to_completion_through_the_api(served, reprocessed):
    ingest, reprocess, _ = reprocessed
    assert ingest.state.is_completed(), ingest.state
    assert reprocess.state.is_completed(), reprocess.state
    assert reprocess.parameters["sol"] == SOL
    # the ingest published the mosaics; the reprocess of an unchanged sol reused them
    from rovercam.catalog import Catalog

    outputs = Catalog(f"sqlite:///{served['root'] / 'catalog.sqlite'}").outputs(sol=SOL)
    kinds = sorted(o.kind for o in outputs)
    assert kinds == ["mosaic"] * 2 + ["stereo"] * 4 + ["terrain"] and {o.version for o in outputs} == {1}


def test_artifacts_are_visible_through_the_api(reprocessed):
    _, _, arts = reprocessed
    by_key = {a.key: a for a in arts if a.key}
    summary = by_key[f"sol-{SOL:05d}-summary"]
    assert summary.type == "markdown" and f"# Sol {SOL} (reprocess-sol)" in summary.data
    # the cataloged products (the truncated one was quarantined at ingest), all reused
    assert "ingested: 8; quarantined: 0" in summary.data and "mosaics published: 2" in summary.data
    assert by_key[f"sol-{SOL:05d}-products"].type == "table"
    previews = [a for a in arts if a.type == "image"]
    assert len(previews) == 2 and all(str(a.data).startswith("data:image/png;base64,") for a in previews)


def test_the_run_page_shows_the_run_in_chromium(served, reprocessed, browser, tmp_path):
    _, reprocess, _ = reprocessed
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{served['ui']}/runs/flow-run/{reprocess.id}", wait_until="networkidle", timeout=60000)
    shot = tmp_path / "run.png"
    try:
        page.wait_for_function(f"document.body.innerText.includes({reprocess.name!r})", timeout=45000)
    finally:
        page.screenshot(path=str(shot))
        (tmp_path / "run.txt").write_text(page.inner_text("body"))
        print("SHOT", shot)
    text = page.inner_text("body")
    assert "reprocess-sol" in text and "Completed" in text
    page.close()
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (900, 1400) and img.std() > 10  # a rendered page, not blank
    if os.environ.get("ROVERCAM_UPDATE_SCREENSHOTS"):
        (REPO / "docs" / "images").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(REPO / "docs" / "images" / "prefect-ui-reprocess.png"), img)
