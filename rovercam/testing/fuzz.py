"""A reader fuzz: mutated products must be read or refused with ProductError, never crash or hang.

Seeds are small products of every supported kind (:func:`seed_products`); each input mutates
one file of a seed (bit flips, truncation, inserted tokens, replaced numbers, deleted or
duplicated label chunks, random bytes, garbage lines), concentrated on the first 64 KiB where
labels live. :func:`fuzz_readers` reports anything other than success or
:class:`~rovercam.errors.ProductError`, and the slowest input.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fuzz_readers", "FuzzReport", "seed_products", "synthetic_product"]


def synthetic_product(pid: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """A :class:`~rovercam.products.Product` with seeded random pixels and a real label's geometry.

    ``shape`` is (lines, samples) or (lines, samples, bands) of ``dtype``; the camera model and
    coordinate frames are those of the MSL FLB label named below, as a MIPL label carries them.
    """
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


def seed_products(folder: Path, *, realdata: Path | None = None) -> list[list[Path]]:
    """Fuzz seeds: groups of files that make one product (the first is read), in ``folder``.

    Synthetic PDS3 (attached, detached, with VICAR), PDS4 and raw-site pairs are always
    written; five real products (MSL, MER, Mars 2020 PDS4 and raw-site) are copied from the
    folder ``realdata`` when it is given and exists.
    """
    from rovercam.products import write_pds3, write_pds4

    pid = "NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01"
    groups: list[list[Path]] = []
    d = folder / "s0"
    d.mkdir(parents=True)
    groups.append([write_pds3(d / "A.IMG", synthetic_product(pid, (16, 12), np.int16),
                              embed_vicar=True)])
    d = folder / "s1"
    d.mkdir()
    groups.append([write_pds3(d / "B.LBL", synthetic_product(pid, (8, 6, 3), np.uint8),
                              detached=True), d / "B.IMG"])
    d = folder / "s2"
    d.mkdir()
    groups.append([write_pds4(d / "C.xml", synthetic_product(pid, (8, 6, 2), np.float32)),
                   d / "C.IMG"])
    d = folder / "s3"
    d.mkdir()
    vic = write_pds3(d / "tmp.IMG", synthetic_product(pid, (8, 6), np.uint8), embed_vicar=True)
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
    if realdata is not None and realdata.is_dir():
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
                shutil.copy(realdata / name, d)
                group.append(d / Path(name).name)
            groups.append(group)
    return groups


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


def fuzz_readers(n: int, *, seed: int = 0, realdata: Path | None = None,
                 workdir: Path | None = None) -> FuzzReport:
    """Read ``n`` mutated products and report anything other than success or ProductError.

    Seeds come from :func:`seed_products` (with the real products of ``realdata``, when given).
    Each input mutates one file of a seed group (the label mostly, sometimes its data file; one
    to three mutations) and is read with ``read_product(pixels=True)`` from a private folder
    holding the group. With ``workdir``, failing inputs are kept in ``workdir/failures/<i>/``.
    """
    from rovercam.errors import ProductError
    from rovercam.products import Limits, read_product

    limits = Limits(max_lines=20000, max_samples=20000, max_bytes=256 * 2**20)
    rng = random.Random(seed)
    report = FuzzReport()
    with tempfile.TemporaryDirectory(prefix="rovercam-fuzz-") as tmp:
        root = Path(workdir or tmp)
        groups = seed_products(root / "seeds", realdata=realdata)
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
