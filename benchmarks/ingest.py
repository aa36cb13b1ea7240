"""``rovercam bench ingest``: label and product read rates, a 500-product sol, and a reader fuzz.

Figures (keys of :func:`run`):

- ``labels_per_s`` / ``pvl_labels_per_s``: ODL labels parsed per second by
  :func:`rovercam.products.odl.loads` and by ``pvl.loads`` on the same texts (the real labels in
  a realdata folder beside the repository, else labels written by :func:`~rovercam.products.write_pds3`).
- ``products_per_s`` / ``pdr_products_per_s``: label + pixels per second by ``read_product``
  and by ``pdr.read`` (array loaded) on the same PDS3 files in the same run.
- ``sol500_products_per_s`` / ``sol500_peak_rss_mb``: :func:`rovercam.ingest.ingest_paths` on a
  500-product synthetic sol (the tiny profile's products rewritten under new ids), in a
  subprocess so its peak resident memory is its own (``resource.getrusage``).
- ``fuzz_inputs``, ``fuzz_failures``, ``fuzz_max_s``: :func:`fuzz_readers` (10,000 mutated inputs;
  300 with ``quick``). A failure is any exception other than ProductError.
"""
from __future__ import annotations

import json
import logging
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run", "fuzz_readers", "FuzzReport", "seed_products", "REALDATA"]

log = logging.getLogger(__name__)

#: The realdata folder beside the repository (absent in most installs; figures then use
#: generated products only).
REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
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
# Inputs
def _synthetic_product(pid: str, shape: tuple[int, ...], dtype: Any) -> Any:
    from rovercam.camera import CAHVORE
    from rovercam.products import CoordinateSystem, Product, ProductMeta

    # CAHVORE of the FLB label (MSL FLB_431397159EDR_F0141262FHAZ00323M1), frames as a MIPL label carries them
    model = CAHVORE((1.03304, -0.17145, -0.707908), (0.706662, 0.00032, 0.707551),
                    (356.718, 453.901, 352.1), (43.3011, 3.70251, 685.544),
                    (0.704793, -0.000541, 0.709413), (8.0e-06, -0.013391, -0.007308),
                    (0.001868, 0.001572, 0.001665), mtype=3, mparm=0.37)
    frames = {"ROVER_NAV_FRAME": CoordinateSystem("ROVER_NAV_FRAME", (0.42, 0.003, 0.02, -0.9),
                                                 (-176.4, -129.6, -0.2), "SITE_FRAME", (4, 218)),
              "SITE_FRAME@4": CoordinateSystem("SITE_FRAME@4", (1.0, 0.0, 0.0, 0.0),
                                              (-39.5, -196.3, -2.0), "SITE_FRAME@3", (4,))}
    rng = np.random.default_rng(0)
    meta = ProductMeta(product_id=pid, mission="M2020", instrument="NAVCAM_LEFT", sol=100,
                       sclk=675828717.276, site=4, drive=218, camera_model=model,
                       camera_frame="ROVER_NAV_FRAME", coordinate_systems=frames, exposure_s=0.0111)
    return Product(meta, image=(rng.random(shape) * 200).astype(dtype))


def seed_products(folder: Path, *, real: bool = True) -> list[list[Path]]:
    """Fuzz seeds: groups of files that make one product (the first is read), in ``folder``.

    Synthetic PDS3 (attached, detached, with VICAR), PDS4 and raw-site pairs are always
    written; the real products are added when that realdata folder is present and ``real``.
    """
    from rovercam.products import write_pds3, write_pds4

    pid = "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01"
    groups: list[list[Path]] = []
    d = folder / "s0"
    d.mkdir(parents=True)
    groups.append([write_pds3(d / "A.IMG", _synthetic_product(pid, (16, 12), np.int16),
                              embed_vicar=True)])
    d = folder / "s1"
    d.mkdir()
    groups.append([write_pds3(d / "B.LBL", _synthetic_product(pid, (8, 6, 3), np.uint8),
                              detached=True), d / "B.IMG"])
    d = folder / "s2"
    d.mkdir()
    groups.append([write_pds4(d / "C.xml", _synthetic_product(pid, (8, 6, 2), np.float32)),
                   d / "C.IMG"])
    d = folder / "s3"
    d.mkdir()
    vic = write_pds3(d / "tmp.IMG", _synthetic_product(pid, (8, 6), np.uint8), embed_vicar=True)
    raw = vic.read_bytes()
    vicar_at = raw.find(b"LBLSIZE=")
    (d / "D.vic").write_bytes(raw[vicar_at:])
    vic.unlink()
    groups.append([d / "D.vic"])
    d = folder / "s4"
    d.mkdir()
    import cv2

    stem = "NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01"
    image = np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3)
    (d / f"{stem}.png").write_bytes(cv2.imencode(".png", image)[1].tobytes())
    meta = {"instrument": "NAVCAM_LEFT", "sol": 670, "site": 32, "drive": 604,
            "subframe_rect": [1.0, 1.0, 16.0, 12.0], "scale_factor": 1,
            "camera_model_type": "CAHVORE",
            "camera_model_component_list": "(0.95,0.35,-1.89);(0.82,0.029,0.566);"
            "(2041.2,3032.24,1457.62);(-71.09,9.02,3538);(0.824,0.0305,0.5657);"
            "(1.7e-06,0.05,-0.017);(-8e-09,1e-08,-2.9e-08);2;0.0"}
    (d / f"{stem}-metadata.json").write_text(json.dumps(meta))
    groups.append([d / f"{stem}-metadata.json", d / f"{stem}.png"])
    if real and REALDATA.is_dir():
        for i, (main, *rest) in enumerate([
                ("msl/FLB_431397159EDR_F0141262FHAZ00323M1.IMG",),
                ("msl/NRB_701384494RAD_F0933408NCAM00200M1.LBL",
                 "msl/NRB_701384494RAD_F0933408NCAM00200M1.IMG"),
                ("mer/1f581291004ednd2fcp1121r0m1.img.lbl", "mer/1f581291004ednd2fcp1121r0m1.img"),
                ("m2020/NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml",),
                ("m2020/NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01-metadata.json",)]):
            d = folder / f"r{i}"
            d.mkdir()
            group = []
            for name in (main, *rest):
                shutil.copy(REALDATA / name, d)
                group.append(d / Path(name).name)
            groups.append(group)
    return groups


# ------------------------------------------------------------------------------------------------
# Fuzz
_TOKENS = [b"0", b"-1", b"1", b"99999999999", b"1e308", b"nan", b"(", b")", b"\"", b"'", b"=",
           b"<", b">", b"\x00", b"\xff", b"END", b"OBJECT", b"END_OBJECT", b"GROUP", b"../x",
           b"2#1111#", b"(\"X.IMG\", 99999 <BYTES>)", b"<!DOCTYPE", b"&lol;", b"{", b"]",
           b"\r\n", b"LBLSIZE=", b"65536", b"4294967296"]
_NUMBER = re.compile(rb"(?<![A-Za-z_])-?\d+(?:\.\d+)?")


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """One random mutation, concentrated on the first 64 KiB (where labels live)."""
    if not data:
        return rng.choice(_TOKENS)
    buf = bytearray(data)
    head = min(len(buf), 65536)
    kind = rng.randrange(7)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(head)
            buf[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncation anywhere
        del buf[rng.randrange(len(buf)):]
    elif kind == 2:  # insert a token
        i = rng.randrange(head)
        buf[i:i] = rng.choice(_TOKENS)
    elif kind == 3:  # replace a number in the label
        matches = list(_NUMBER.finditer(bytes(buf[:head])))
        if matches:
            m = rng.choice(matches)
            buf[m.start():m.end()] = rng.choice([b"0", b"-5", b"99999999999", b"2147483648",
                                                 b"1.5", b"65535", b"7"])
    elif kind == 4:  # delete or duplicate a chunk of the label
        i = rng.randrange(head)
        j = min(head, i + rng.randint(1, 200))
        if rng.random() < 0.5:
            del buf[i:j]
        else:
            buf[j:j] = buf[i:j]
    elif kind == 5:  # random bytes
        i = rng.randrange(head)
        buf[i:i + 16] = bytes(rng.randrange(256) for _ in range(16))
    else:  # overwrite a line with garbage
        i = rng.randrange(head)
        start = bytes(buf).rfind(b"\n", 0, i) + 1
        end = bytes(buf).find(b"\n", i)
        end = head if end < 0 else end
        buf[start:end] = rng.choice(_TOKENS) * rng.randint(1, 4)
    return bytes(buf)


@dataclass
class FuzzReport:
    """Outcome of :func:`fuzz_readers`."""

    inputs: int = 0
    rejected: int = 0  # ProductError, as wanted
    accepted: int = 0
    max_s: float = 0.0
    slowest: str = ""
    failures: list[dict[str, str]] = field(default_factory=list)


def fuzz_readers(n: int, *, seed: int = 0, real: bool = True, workdir: Path | None = None
                 ) -> FuzzReport:
    """Read ``n`` mutated products and report anything other than success or ProductError.

    Seeds come from :func:`seed_products`. Each input mutates one file of a seed group (the
    label mostly, sometimes its data file; one to three mutations) and is read with
    ``read_product(pixels=True)`` from a private folder holding the group.
    """
    from rovercam.errors import ProductError
    from rovercam.products import Limits, read_product

    limits = Limits(max_lines=20000, max_samples=20000, max_bytes=256 * 2**20)
    rng = random.Random(seed)
    report = FuzzReport()
    with tempfile.TemporaryDirectory(prefix="rovercam-fuzz-") as tmp:
        root = Path(workdir or tmp)
        groups = seed_products(root / "seeds", real=real)
        contents = [[(p.name, p.read_bytes()) for p in g] for g in groups]
        case = root / "case"
        for i in range(n):
            g = rng.randrange(len(groups))
            files = list(contents[g])
            target = 0 if len(files) == 1 or rng.random() < 0.8 else rng.randrange(len(files))
            name, data = files[target]
            for _ in range(rng.randint(1, 3)):
                data = _mutate(data, rng)
            files[target] = (name, data)
            if case.exists():
                shutil.rmtree(case)
            case.mkdir()
            for fname, body in files:
                (case / fname).write_bytes(body)
            t0 = time.perf_counter()
            try:
                read_product(case / files[0][0], limits=limits)
                report.accepted += 1
            except ProductError:
                report.rejected += 1
            except Exception as exc:  # noqa: BLE001 - the point of the fuzz is to find these
                report.failures.append({"input": f"seed {groups[g][0].name} #{i}",
                                        "error": f"{type(exc).__name__}: {exc}"[:300]})
                keep = root / "failures" / f"{i}"
                if workdir is not None:
                    shutil.copytree(case, keep)
            dt = time.perf_counter() - t0
            if dt > report.max_s:
                report.max_s, report.slowest = dt, f"seed {groups[g][0].name} #{i}"
            report.inputs += 1
    return report


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
    return [write_pds3(folder / "G0.IMG", _synthetic_product(pid, (1024, 1024), np.int16),
                       embed_vicar=True),
            write_pds3(folder / "G1.LBL", _synthetic_product(pid, (968, 1288, 3), np.uint8),
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
        fuzz = fuzz_readers(300 if quick else 10_000, seed=0, real=real)
        figures["fuzz_inputs"] = fuzz.inputs
        figures["fuzz_rejected"] = fuzz.rejected
        figures["fuzz_failures"] = len(fuzz.failures)
        figures["fuzz_max_s"] = fuzz.max_s
        if fuzz.failures:
            figures["fuzz_first_failure"] = json.dumps(fuzz.failures[0])
    return figures
