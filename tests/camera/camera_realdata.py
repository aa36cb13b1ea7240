"""The real flight models of ../shared/realdata, loaded for the camera tests.

Labels are read with ``pvl`` (the reference ODL parser) and the PDS4 XML with ElementTree, so
these tests do not depend on rovercam.products. Sizes are the products' (samples, lines).
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rovercam.camera import CAHVOR, CAHVORE, CameraModel, from_pds3, from_pds4

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"


@dataclass(frozen=True)
class RealModel:
    """A flight camera model with its image size and, when the label has them, pointing truth."""

    name: str
    model: CameraModel
    size: tuple[int, int]  # (width, height) in product pixels
    label: Any = None


def _require_realdata() -> None:
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (see ../shared/realdata/MANIFEST.md)")


def _pvl(path: Path) -> Any:
    import pvl

    return pvl.load(str(path))


def _camera_vectors_models() -> list[RealModel]:
    # ../shared/realdata/camera_vectors.md section 3 (parameters copied as printed there)
    return [
        RealModel(
            "mer_navcam_cahvor",
            CAHVOR(
                (0.491222, -0.0717236, -1.24143), (0.921657, -0.230518, 0.312107),
                (757.076, 1071.6, 160.227), (91.7479, -27.7504, 1319.48),
                (0.920759, -0.206185, 0.331197), (0.00096, -0.002183, 0.018547),
            ),
            (1024, 1024),
        ),
        RealModel(
            "mer_fhaz_cahvore",
            CAHVORE(
                (0.606185, -0.043367, -0.234891), (0.712013, 0.037316, 0.701174),
                (353.341, 474.873, 350.82), (44.0102, 16.904, 683.916),
                (0.712953, 0.038186, 0.700171), (3e-06, -0.013032, -0.00754),
                (0.000942, 0.00228, 0.001613), 3, 0.37,
            ),
            (1024, 1024),
        ),
    ]


def load_real_models() -> dict[str, RealModel]:
    """Every flight model in ../shared/realdata, by short name."""
    _require_realdata()
    out = {m.name: m for m in _camera_vectors_models()}
    flb = _pvl(REALDATA / "msl" / "FLB_431397159EDR_F0141262FHAZ00323M1.IMG")
    out["msl_flb"] = RealModel("msl_flb", from_pds3(flb["GEOMETRIC_CAMERA_MODEL"]), (1024, 1024), flb)
    nrb = _pvl(REALDATA / "msl" / "NRB_701384494RAD_F0933408NCAM00200M1.LBL")
    group = nrb.get("GEOMETRIC_CAMERA_MODEL_PARMS") or nrb["GEOMETRIC_CAMERA_MODEL"]
    group = {k.split(":")[-1]: v for k, v in group.items()}
    out["msl_nrb"] = RealModel("msl_nrb", from_pds3(group), (1024, 1024), nrb)
    mer = _pvl(REALDATA / "mer" / "1f581291004ednd2fcp1121r0m1.img.lbl")
    out["mer_frh"] = RealModel("mer_frh", from_pds3(mer["GEOMETRIC_CAMERA_MODEL"]), (512, 512), mer)
    xml_path = REALDATA / "m2020" / "NLF_0629_0722782785_631ECM_N0301344NCAM00427_06_095J01.xml"
    root = ET.parse(xml_path).getroot()
    params = next(e for e in root.iter() if e.tag.endswith("}Camera_Model_Parameters"))
    out["m2020_nlf_0629"] = RealModel("m2020_nlf_0629", from_pds4(params), (1296, 976), root)
    meta = json.loads(
        (REALDATA / "m2020" / "NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01-metadata.json")
        .read_text()
    )
    comps = meta["camera_model_component_list"].split(";")
    vals = [tuple(float(x) for x in c.strip("()").split(",")) for c in comps]
    model = CAHVORE(*vals[:7], mtype=vals[7][0], mparm=vals[8][0])
    out["m2020_nlf_0670"] = RealModel("m2020_nlf_0670", model, (1288, 968), meta)
    return out


def image_grid(size: tuple[int, int], step: int) -> np.ndarray:
    """(N, 2) pixels on a lattice over the whole image, borders and corners included."""
    w, h = size
    xs = np.unique(np.r_[np.arange(0, w, step), w - 1]).astype(float)
    ys = np.unique(np.r_[np.arange(0, h, step), h - 1]).astype(float)
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])
