"""``rovercam bench ingest``: label and product read rates, a 500-product sol, and a reader fuzz.

Figures (keys of :func:`run`):

- ``labels_per_s`` / ``pvl_labels_per_s``: ODL labels parsed per second by
  :func:`rovercam.products.odl.loads` and by ``pvl.loads`` on the same texts (the real labels in
  the folder named by ``ROVERCAM_REALDATA``, else labels written by :func:`~rovercam.products.write_pds3`).
- ``products_per_s`` / ``pdr_products_per_s``: label + pixels per second by ``read_product``
  and by ``pdr.read`` (array loaded) on the same PDS3 files in the same run.
- ``sol500_products_per_s`` / ``sol500_peak_rss_mb``: :func:`rovercam.ingest.ingest_paths` on a
  500-product synthetic sol (the tiny profile's products rewritten under new ids), in a
  subprocess so its peak resident memory is its own (``resource.getrusage``).
- ``fuzz_inputs``, ``fuzz_failures``, ``fuzz_max_s``: :func:`rovercam.testing.fuzz_readers`
  (10,000 mutated inputs; 300 with ``quick``). A failure is any exception other than ProductError.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.testing import fuzz_readers, synthetic_product

__all__ = ["run", "REALDATA"]

log = logging.getLogger(__name__)

#: A folder of real PDS products (``ROVERCAM_REALDATA``, laid out as the MSL/MER/M2020 conformance
#: set the tests read: ``msl/FLB_...IMG``...). Without it the figures use generated labels.
REALDATA = Path(os.environ.get("ROVERCAM_REALDATA", "/nonexistent"))
_REAL_LABELS = ("msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG",
                "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL",
                "msl/NRB_701384494RAD_F0933408NCAM00200M1.IMG",
                "mer/1f581291004ednd2fcp1121r0m1.img",
                "mer/1f581291004ednd2fcp1121r0m1.img.lbl")
_REAL_PRODUCTS = ("msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG",
                  "msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL",
                  "mer/1f581291004ednd2fcp1121r0m1.img")
_END = re.compile(rb"(?:^|[\r\n])[ \t]*END[ \t]*(?:\r?\n|$)")


# ------------------------------------------------------------------------------------------------
# Rates
def _label_text(path: Path) -> str:
    head = path.read_bytes()[:4 * 2**20]
    m = _END.search(head)
    return head[: m.end() if m else len(head)].decode("latin-1")


def _rate(fn: Any, items: list[Any], *, min_s: float) -> float:
    """Items per second over whole passes, repeating until ``min_s`` has elapsed."""
    done, t0 = 0, time.perf_counter()
    while True:
        for item in items:
            fn(item)
        done += len(items)
        elapsed = time.perf_counter() - t0
        if elapsed >= min_s:
            return done / elapsed


def _generated_pds3(folder: Path) -> list[Path]:
    from rovercam.products import write_pds3

    folder.mkdir(parents=True, exist_ok=True)
    pid = "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01"
    return [write_pds3(folder / "G0.IMG", synthetic_product(pid, (1024, 1024), np.int16),
                       embed_vicar=True),
            write_pds3(folder / "G1.LBL", synthetic_product(pid, (968, 1288, 3), np.uint8),
                       detached=True)]


def _make_sol500(out: Path, n: int) -> None:
    """``n`` products: the tiny synthetic sol's products rewritten with new ids and SCLKs."""
    from rovercam.products import format_m2020_id, parse_product_id, read_product, write_pds3
    from rovercam.synth import generate_sol

    src = out.parent / "tiny-sol"
    generate_sol(src, profile="tiny")
    templates = []
    for p in sorted((src / "raw").glob("*.IMG")):
        try:
            templates.append(read_product(p))
        except Exception:  # noqa: BLE001 - the tiny sol holds deliberately bad products
            continue
    out.mkdir(parents=True)
    for i in range(n):
        t = templates[i % len(templates)]
        pid = parse_product_id(t.product_id)
        sclk = (t.sclk or 675828717.0) + 10.0 * (i + 1)
        new_id = format_m2020_id(instrument=t.instrument, sol=t.sol or 100, sclk=sclk,
                                 site=t.site or 0, drive=t.drive or 0,
                                 sequence=pid.sequence or "NCAM00001",
                                 product_type=pid.product_type, filter=pid.filter or "F",
                                 camera_specific=pid.camera_specific or "01_0",
                                 compression=pid.compression or "95")
        write_pds3(out / f"{new_id}.IMG", replace(t, meta=replace(t.meta, product_id=new_id, sclk=sclk)),
                   embed_vicar=True)
    shutil.rmtree(src)


def _sol500_child(folder: str, store: str) -> None:
    """Subprocess body: ingest ``folder`` into a store, print rate and peak RSS as JSON."""
    import resource

    from rovercam.config import load
    from rovercam.ingest import ingest_paths

    settings = load(None, overrides={"storage": {"root": store}})
    t0 = time.perf_counter()
    results = ingest_paths([folder], settings=settings, sol_hint=100)
    elapsed = time.perf_counter() - t0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    print(json.dumps({"n": len(results), "ingested": sum(r.ok for r in results),
                      "per_s": len(results) / elapsed, "peak_rss_mb": rss_kb / 1024.0}))


def _sol500(tmp: Path, n: int) -> dict[str, float]:
    folder = tmp / "sol500"
    _make_sol500(folder, n)
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from rovercam_benchmarks.ingest import "
         "_sol500_child; _sol500_child(sys.argv[1], sys.argv[2])", str(folder),
         str(tmp / "store")], capture_output=True, text=True, check=True)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"sol500_products": figures["n"], "sol500_ingested": figures["ingested"],
            "sol500_products_per_s": figures["per_s"],
            "sol500_peak_rss_mb": figures["peak_rss_mb"]}


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the ingest figures (see the module docstring); ``quick`` for a smoke run."""
    import pvl

    from rovercam.products import odl, read_product

    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        real = REALDATA.is_dir()
        figures["data"] = "realdata" if real else "generated"
        label_files = [REALDATA / n for n in _REAL_LABELS] if real else _generated_pds3(
            tmp / "gen")
        texts = [_label_text(p) for p in label_files]
        figures["labels"] = len(texts)
        figures["labels_per_s"] = _rate(odl.loads, texts, min_s=0.3 if quick else 2.0)
        figures["pvl_labels_per_s"] = _rate(pvl.loads, texts, min_s=0.3 if quick else 3.0)
        figures["odl_speedup_vs_pvl"] = figures["labels_per_s"] / figures["pvl_labels_per_s"]
        products = [REALDATA / n for n in _REAL_PRODUCTS] if real else _generated_pds3(
            tmp / "gen")
        figures["products_per_s"] = _rate(read_product, products, min_s=0.3 if quick else 2.0)
        try:
            import pdr
        except ImportError:
            figures["pdr_products_per_s"] = None
        else:
            def _pdr(path: Path) -> None:
                data = pdr.read(str(path))
                np.asarray(data["IMAGE"])  # load the array, as read_product does
            figures["pdr_products_per_s"] = _rate(_pdr, products, min_s=0.3 if quick else 2.0)
        figures.update(_sol500(tmp, 50 if quick else 500))
        fuzz = fuzz_readers(300 if quick else 10_000, seed=0, realdata=REALDATA if real else None)
        figures["fuzz_inputs"] = fuzz.inputs
        figures["fuzz_rejected"] = fuzz.rejected
        figures["fuzz_failures"] = len(fuzz.failures)
        figures["fuzz_max_s"] = fuzz.max_s
        if fuzz.failures:
            figures["fuzz_first_failure"] = json.dumps(fuzz.failures[0])
    return figures
