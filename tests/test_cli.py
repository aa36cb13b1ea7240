"""The ``rovercam`` command at its edges: mistakes caught before anything starts, read-only verbs
that create nothing, ids and paths printed whole, ``--json`` on every listing.

Each behaviour runs the command in a subprocess, as a user would, and checks the exit status,
the output and that no folder, catalog or Prefect database appeared.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from rovercam.catalog import Catalog
from rovercam.cli.console import print_records

REPO = Path(__file__).resolve().parents[1]
LONG_ID = "M2020-sol00100-site12_drive3456_NCAM00530_NAVCAM-RIGHT_CYL-v1"


def rovercam(*args: str, tmp_path: Path, columns: int = 80, env: dict | None = None):
    """Run ``python -m rovercam.cli ARGS``; returns the CompletedProcess (text)."""
    prefect_home = tmp_path / "prefect-home"
    prefect_home.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    environ.update(COLUMNS=str(columns), PREFECT_HOME=str(prefect_home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   DO_NOT_TRACK="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "rovercam.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=environ, timeout=120)


def one_line_error(proc, *needles: str) -> str:
    """Exit status 2, no traceback, a single line on stderr holding every needle."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def no_prefect_server(tmp_path: Path) -> None:
    # an ephemeral Prefect server creates its database under PREFECT_HOME
    assert not any((tmp_path / "prefect-home").iterdir())


@pytest.fixture
def store(tmp_path):
    """A storage root with a catalog: sol 100 has NAVCAM_LEFT and NAVCAM_RIGHT products, sol 102
    one quarantined product, and one published output with a long id."""
    root = tmp_path / "store"
    with Catalog(root / "catalog.sqlite") as cat:
        for i, cam in enumerate(["NAVCAM_LEFT", "NAVCAM_RIGHT"]):
            product = root / "incoming" / f"N{cam[7]}F_0100_{i}.IMG"
            product.parent.mkdir(parents=True, exist_ok=True)
            product.write_bytes(b"x")
            cat.record_product(f"N{cam[7]}F_0100_{i}", f"{i:02d}" * 32, sol=100, instrument=cam, path=str(product))
        cat.record_product("NLF_0101_0", "ab" * 32, sol=101, instrument="NAVCAM_LEFT", path=str(product))
        cat.record_quarantine(str(root / "incoming" / "BAD_0102.IMG"), "cd" * 32, "truncated", sol=102)
        run_id = cat.start_run("ingest-sol", sol=100)
        name = "site12_drive3456_NCAM00530_NAVCAM-RIGHT_CYL"
        cat.record_output(name=name, kind="mosaic", sol=100, version=1, output_id=LONG_ID, mission="M2020",
                          storage_keys={"cog": f"sol00100/mosaics/{name}/v1/{name}.tif"},
                          lineage={"NRF_0100_1": "01" * 32}, instrument="NAVCAM_RIGHT", run_id=run_id,
                          stac_key=f"sol00100/mosaics/{name}/v1/{name}.stac.json")
        cat.finish_run(run_id)
    return root


# ---------------------------------------------------------------- parameters, before any server


@pytest.mark.parametrize("args, needles", [
    (["--stages", "mosiac"], ["'mosiac'", "stages: ingest, calibrate, stereo, mosaic, publish"]),
    (["--cameras", "FOOCAM"], ["'FOOCAM'", "cameras: NAVCAM_LEFT, NAVCAM_RIGHT"]),
    (["--cameras", "NAVCAM", "MCZ"], ["'MCZ'", "cameras: NAVCAM_LEFT, NAVCAM_RIGHT"]),
])
def test_reprocess_refuses_a_wrong_stage_or_camera_naming_the_choices(store, tmp_path, args, needles):
    for dry in ([], ["--dry-run"]):
        proc = rovercam("reprocess", "--sol", "100", "--out", str(store), *args, *dry, tmp_path=tmp_path)
        one_line_error(proc, *needles)
    no_prefect_server(tmp_path)


def test_reprocess_refuses_a_sol_without_products_naming_the_sols(store, tmp_path):
    proc = rovercam("reprocess", "--sol", "999", "--out", str(store), tmp_path=tmp_path)
    one_line_error(proc, "--sol 999", "sols: 100-101")  # sol 102 holds only a quarantined product
    no_prefect_server(tmp_path)


@pytest.mark.parametrize("verb", [["reprocess"], ["run", "--input", "."], ["catalog", "products"]])
def test_a_negative_sol_is_a_usage_error(verb, tmp_path):
    proc = rovercam(*verb, "--sol", "-1", "--out", str(tmp_path / "store"), tmp_path=tmp_path)
    one_line_error(proc, "--sol", ">= 0", "-1")
    assert not (tmp_path / "store").exists()


def test_run_refuses_a_missing_input_folder_at_once(tmp_path):
    proc = rovercam("run", "--sol", "1", "--input", str(tmp_path / "nothere"), "--out", str(tmp_path / "store"),
                    tmp_path=tmp_path)
    one_line_error(proc, str(tmp_path / "nothere"), "no such folder")
    assert not (tmp_path / "store").exists()
    no_prefect_server(tmp_path)


def test_debug_shows_the_traceback_of_an_expected_error(tmp_path):
    proc = rovercam("--debug", "catalog", "runs", "--out", str(tmp_path / "nothere"), tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "no storage root here" in proc.stderr.splitlines()[-1]


# ---------------------------------------------------------------- read-only verbs create nothing


@pytest.mark.parametrize("verb", [
    ["catalog", "products"], ["catalog", "outputs"], ["catalog", "runs"], ["catalog", "lineage", LONG_ID],
    ["catalog", "export-stac", "DEST"], ["reprocess", "--sol", "100", "--dry-run"],
])
def test_read_only_verbs_refuse_a_missing_storage_root_and_create_nothing(verb, tmp_path):
    root = tmp_path / "nothere"
    verb = [str(tmp_path / "dest") if a == "DEST" else a for a in verb]
    proc = rovercam(*verb, "--out", str(root), tmp_path=tmp_path)
    one_line_error(proc, str(root), "no storage root here")
    assert not root.exists() and not (tmp_path / "dest").exists()


def test_read_only_verbs_refuse_a_root_without_a_catalog(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    proc = rovercam("catalog", "products", "--out", str(root), tmp_path=tmp_path)
    one_line_error(proc, "catalog.sqlite", "no catalog here")
    assert list(root.iterdir()) == []


def test_catalog_opened_for_reading_is_not_created(tmp_path):
    from rovercam.errors import CatalogError

    with pytest.raises(CatalogError, match="no catalog here"):
        Catalog(tmp_path / "sub" / "catalog.sqlite", create=False)
    assert list(tmp_path.iterdir()) == []


def test_product_states_offered_are_the_ones_recorded(store, tmp_path):
    proc = rovercam("catalog", "products", "--state", "processed", "--out", str(store), tmp_path=tmp_path)
    one_line_error(proc, "'processed'", "'ingested', 'quarantined'")
    proc = rovercam("catalog", "products", "--state", "quarantined", "--json", "--out", str(store), tmp_path=tmp_path)
    assert proc.returncode == 0
    assert [p["state"] for p in json.loads(proc.stdout)] == ["quarantined"]


# ---------------------------------------------------------------- listings: --json, whole ids


@pytest.mark.parametrize("verb, key", [
    (["catalog", "products"], "product_id"), (["catalog", "outputs"], "output_id"),
    (["catalog", "runs"], "run_id"), (["cameras"], "camera"),
])
def test_every_listing_takes_json(store, tmp_path, verb, key):
    out = ["--out", str(store)] if verb[0] == "catalog" else []
    proc = rovercam(*verb, "--json", *out, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, list) and all(key in row for row in doc)
    if verb[0] == "catalog":
        assert doc


@pytest.mark.parametrize("columns", [80, 200])
def test_catalog_listings_print_whole_ids_and_paths(store, tmp_path, columns):
    proc = rovercam("catalog", "products", "--out", str(store), tmp_path=tmp_path, columns=columns)
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout
    for pid in ("NLF_0100_0", "NRF_0100_1", str(store / "incoming" / "BAD_0102.IMG")):
        assert pid in proc.stdout
    assert str(store / "catalog.sqlite") in proc.stdout  # the title line, unbroken
    proc = rovercam("catalog", "outputs", "--out", str(store), tmp_path=tmp_path, columns=columns)
    assert LONG_ID in proc.stdout and "/v1/site12_drive3456_NCAM00530_NAVCAM-RIGHT_CYL.stac.json" in proc.stdout
    proc = rovercam("catalog", "lineage", LONG_ID, "--out", str(store), tmp_path=tmp_path, columns=columns)
    assert proc.returncode == 0, proc.stderr
    assert LONG_ID in proc.stdout and str(store / "incoming" / "NRF_0100_1.IMG") in proc.stdout
    assert "…" not in proc.stdout


@pytest.mark.parametrize("columns", [40, 80, 120, 200])
def test_records_keep_long_ids_and_paths_whole(columns):
    path = "/data/rovercam/sol00100/mosaics/site12_drive3456_NCAM00530_NAVCAM-RIGHT_CYL/v1/mosaic.stac.json"
    rows = [(LONG_ID, "mosaic", "100", "NAVCAM_RIGHT", path), (LONG_ID[:-1] + "2", "mosaic", "100", "NAVCAM_RIGHT", "")]
    console = Console(width=columns, record=True, file=io.StringIO())
    print_records("outputs", ("output_id", "kind", "sol", "instrument", "stac_key"), rows,
                  whole={"output_id", "stac_key"}, target=console)
    lines = console.export_text().splitlines()
    assert "…" not in "\n".join(lines)
    # each id and path sits whole on one line (a table row or its own line)
    for text in (LONG_ID, LONG_ID[:-1] + "2", path):
        assert any(text in line for line in lines), (text, lines)


def test_a_narrow_table_keeps_the_ids_and_folds_the_rest():
    console = Console(width=100, record=True, file=io.StringIO())
    print_records("outputs", ("output_id", "kind", "sol"), [(LONG_ID, "mosaic", "100")], whole={"output_id"},
                  target=console)
    text = console.export_text()
    assert "┃ output_id" in text and LONG_ID in text  # a table, the id whole in its row


# ---------------------------------------------------------------- serve


def test_serve_without_a_server_refuses_and_says_how_to_start_one(tmp_path):
    proc = rovercam("serve", tmp_path=tmp_path)
    one_line_error(proc, "prefect server start", "PREFECT_API_URL", "--ephemeral")
    no_prefect_server(tmp_path)


def test_python_dash_m_and_the_entry_point_are_the_same_main():
    from rovercam import cli
    from rovercam.cli import main

    assert main is cli.main and callable(cli.build_parser)


def test_run_refuses_a_sol_the_input_folder_does_not_hold_naming_its_sols(tmp_path):
    from rovercam.config import load
    from rovercam.synth import generate_sol

    drop = tmp_path / "drop"
    generate_sol(drop / "sol00012", sol=12, profile="tiny", seed=4, settings=load())
    proc = rovercam("run", "--sol", "999", "--input", str(drop), "--out", str(tmp_path / "store"), tmp_path=tmp_path)
    one_line_error(proc, "--sol 999", str(drop), "sols: 12")
    assert not (tmp_path / "store").exists()
    no_prefect_server(tmp_path)
