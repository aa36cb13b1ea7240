"""A calibration batch (the Dask path) reports a failing product and finishes the others."""
from __future__ import annotations

from dataclasses import replace


def test_one_bad_product_in_a_batch_does_not_fail_the_rest(tmp_path):
    from rovercam import ingest
    from rovercam.config import load
    from rovercam.products import Limits
    from rovercam.synth import generate_sol

    from rovercam_tasks._runtime import catalog_for, store_for
    from rovercam_tasks.calibrate import calibrate_batch

    sol_dir = tmp_path / "sol"
    generate_sol(sol_dir, sol=5, profile="tiny", seed=1, settings=load(environ={}))
    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")},
                                           "calibration": {"search_path": [str(sol_dir / "calibration")]}})
    limits = Limits(**settings.limits.model_dump())
    results = [ingest.ingest_one(p, limits=limits, store=store_for(settings), catalog=catalog_for(settings))
               for p in ingest.discover(sol_dir / "raw")]
    good = [r for r in results if r.state == "ingested"][:3]
    tampered = replace(good[1], sha256="0" * 64)  # as if the file changed after ingest
    out = calibrate_batch.fn([good[0], tampered, good[2]], settings, ["k0", "k1", "k2"], "batch")
    assert [pid for pid, _, _ in out] == [g.product_id for g in good]
    (_, ref0, err0), (_, ref1, err1), (_, ref2, err2) = out
    assert err0 is None and err2 is None and store_for(settings).exists(ref0.key) and store_for(settings).exists(ref2.key)
    assert ref1 is None and "changed since ingest" in err1 and good[1].path in err1
