"""ingest-sol from an HTTP archive served on localhost, on the Dask task runner, and the
catalog-report flow over the result (Prefect test server)."""
from __future__ import annotations

import functools
import http.server
import threading

import pytest

pytestmark = pytest.mark.e2e

SOL = 33


@pytest.fixture(scope="module")
def http_volume(tmp_path_factory):
    """A PDS-volume-like tree (``DATA/SOL00033/...``) served by a real HTTP server on 127.0.0.1."""
    from rovercam.config import load
    from rovercam.synth import generate_sol

    base = tmp_path_factory.mktemp("volume")
    gen = base / "gen"
    generate_sol(gen, sol=SOL, profile="tiny", seed=2, settings=load(environ={}))
    data = base / "www" / "DATA" / f"SOL{SOL:05d}"
    data.mkdir(parents=True)
    for f in (gen / "raw").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(base / "www"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", gen
    server.shutdown()


def test_http_archive_on_dask_runner_then_catalog_report(http_volume, tmp_path, prefect_harness):
    pytest.importorskip("prefect_dask", reason="pip install 'rovercam[dask]'")
    from rovercam_flows.catalog_report import catalog_report
    from rovercam_flows.ingest_sol import ingest_sol

    url, gen = http_volume
    overrides = {"storage": {"root": str(tmp_path / "store")},
                 "calibration": {"search_path": [str(gen / "calibration"), "data/calibration"]},
                 "prefect": {"task_runner": "dask", "dask_workers": 2}}
    [report] = ingest_sol(source=url, sol=None, latest=1, overrides=overrides)  # finds sol 33 itself
    assert report["sol"] == SOL and len(report["fetched"]) == 9
    assert len(report["ingested"]) == 8 and len(report["quarantined"]) == 1 and not report["failed"]
    assert sorted(p["instrument"] for p in report["published"]) == ["NAVCAM_LEFT", "NAVCAM_RIGHT"]
    # the staged copies are byte-identical to what the server holds
    staged = tmp_path / "store" / "incoming" / f"sol{SOL:05d}"
    for f in (gen / "raw").iterdir():
        assert next(staged.rglob(f.name)).read_bytes() == f.read_bytes()

    summary = catalog_report(overrides={"storage": overrides["storage"]})
    states = {(r["instrument"], r["state"]): r["count"] for r in summary["products"] if r["sol"] == SOL}
    assert states[("NAVCAM_LEFT", "ingested")] == 4 and states[("NAVCAM_RIGHT", "ingested")] == 4
    assert {o["kind"]: o["count"] for o in summary["outputs"] if o["sol"] == SOL} == {
        "mosaic": 2, "stereo": 4, "terrain": 1}  # the tiny sol's 4 Navcam pairs and its one site/drive
    assert summary["runs"][0]["flow"] == "ingest-sol" and summary["runs"][0]["published"] == 2
    assert len(summary["quarantined"]) == 1


def test_reprocess_on_a_dask_scheduler_given_by_address(http_volume, tmp_path, prefect_harness):
    """`[prefect] dask_address`: the calibration tasks run on an existing Dask cluster."""
    pytest.importorskip("prefect_dask", reason="pip install 'rovercam[dask]'")
    from distributed import Client, LocalCluster

    from rovercam_flows.ingest_sol import ingest_sol
    from rovercam_flows.reprocess_sol import reprocess_sol

    url, gen = http_volume
    overrides = {"storage": {"root": str(tmp_path / "store")},
                 "calibration": {"search_path": [str(gen / "calibration"), "data/calibration"]}}
    [first] = ingest_sol(source=url, sol=SOL, overrides=overrides)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        remote = {**overrides, "prefect": {"task_runner": "dask", "dask_address": cluster.scheduler_address}}
        report = reprocess_sol(sol=SOL, stages=["calibrate"], overrides=remote)
        # the scheduler saw one calibrate task per cataloged product
        done = client.run_on_scheduler(lambda dask_scheduler: sorted(dask_scheduler.task_prefixes))
    assert not report["failed"] and report["reused"]["calibrate"] == 0
    assert len(report["ingested"]) == 8 and any("calibrate" in p for p in done), done
    assert [p["version"] for p in report["published"]] == [p["version"] for p in first["published"]]
