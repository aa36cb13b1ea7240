"""``rovercam stereo LEFT RIGHT --out DIR``: both products read and calibrated, the pair's files
written to DIR with a one-line summary.

The stereo library (another issue-20 module) is stood in for by hand-built StereoProducts, so the
test holds the verb's wiring; truth: the generated pair (``tiny`` profile) and the written files.
"""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import rasterio

from rovercam.cli import main


def test_stereo_writes_the_pair_files_and_a_summary(tmp_path, monkeypatch, capsys):
    from rovercam.config import load
    from rovercam.pipeline import stereo as stage
    from rovercam.stereo.products import StereoProducts
    from rovercam.synth import generate_sol
    from rovercam.terrain import mesh as mesh_module
    from rovercam.terrain.mesh import Mesh

    sol = tmp_path / "sol"
    generate_sol(sol, sol=9, profile="tiny", seed=3, settings=load(environ={}))
    raw = sorted((sol / "raw").glob("N*_*.IMG"))
    left = next(p for p in raw if p.name.startswith("NL"))
    right = next(p for p in raw if p.name.startswith("NR") and p.name[3:20] == left.name[3:20])
    seen = {}

    def products(lf, rf, settings):
        seen["models"] = stage.site_models(lf, rf)  # the frame chain reaches SITE_FRAME
        xyz = np.ones((8, 10, 3), np.float32)
        xyz[0] = np.nan
        rng = np.linalg.norm(xyz, axis=2)
        return StereoProducts(lf.camera_model, rf.camera_model, "SITE_FRAME", rng, xyz, rng, xyz / np.sqrt(3),
                              rng / 100, np.ones((8, 10), np.float32))

    monkeypatch.setattr(stage, "pair_products", products)
    tri = Mesh(np.eye(3, dtype=np.float32), np.array([[0, 1, 2]], np.int32), "SITE_FRAME")
    monkeypatch.setattr(mesh_module, "mesh_from_xyz", lambda xyz, **kw: tri, raising=False)
    files = types.ModuleType("rovercam.terrain.meshfile")
    files.write_glb = lambda mesh, path: Path(path).write_bytes(b"glTF")
    files.write_ply = lambda mesh, path: Path(path).write_bytes(b"ply\n")
    monkeypatch.setitem(sys.modules, "rovercam.terrain.meshfile", files)
    config = tmp_path / "c.toml"
    config.write_text(f'[calibration]\nsearch_path = ["{sol / "calibration"}"]\n')
    out = tmp_path / "pair"
    assert main(["--config", str(config), "stereo", str(left), str(right), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid_percent"] == 87.5 and summary["mesh_faces"] == 1 and summary["frame"] == "SITE_FRAME"
    assert {Path(p).name for p in summary["files"].values()} == {
        "xyz.tif", "range.tif", "normals.tif", "range_sigma.tif", "mesh.glb", "mesh.ply", "preview.png"}
    with rasterio.open(out / "xyz.tif") as ds:
        assert [ds.tags(b)["name"] for b in (1, 2, 3)] == ["X", "Y", "Z"]
    assert all(m.c.shape == (3,) for m in seen["models"])
    assert main(["--config", str(config), "stereo", str(left), str(right), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "87.5 % of pixels with XYZ" in line and "mesh 1 faces" in line


def test_the_sol_summary_lists_stereo_pairs_terrains_and_unpaired_frames():
    """A run's summary line counts the stereo stage's outputs, and each gets its own line."""
    from rovercam.cli.console import console
    from rovercam.cli.orchestration import print_sol_report

    base = {"sol": 7, "products_found": 3, "ingested": ["A", "B", "C"], "quarantined": [], "duplicates": [],
            "failed": [], "published": []}
    report = dict(base, stereo=[{"name": "NLF_PAIR_STEREO", "version": 2, "reused": True, "valid_fraction": 0.912,
                                 "mesh_faces": 1234}],
                  terrain=[{"name": "SITE00003_DRIVE00042_TERRAIN", "version": 1, "pairs": ["NLF_PAIR_STEREO"],
                            "cells": 5000, "mesh_faces": 800}],
                  unpaired=[{"product_id": "C", "instrument": "NAVCAM_RIGHT", "reason": "no left frame within 2 s"}])
    with console.capture() as cap:
        print_sol_report(report)
    text = cap.get()
    assert "0 mosaics published, 1 stereo pair(s), 1 terrain(s), 1 unpaired frame(s)" in text
    assert "stereo NLF_PAIR_STEREO v2 (reused): 91.2 % of pixels with XYZ, 1234 mesh faces" in text
    assert "terrain SITE00003_DRIVE00042_TERRAIN v1: 1 pair(s), 5000 DEM cells, 800 mesh faces" in text
    assert "unpaired C (NAVCAM_RIGHT): no left frame within 2 s" in text
    with console.capture() as cap:
        print_sol_report(base)  # a run without the stage: the line is as before
    assert cap.get().splitlines()[0].endswith("0 mosaics published")
