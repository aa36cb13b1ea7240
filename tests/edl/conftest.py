"""A small generated EDL sol shared by the EDL tests (one per session, ~10 s to generate).

Truth: the generator (rovercam.synth): per-frame true camera centres and altitudes in the
manifest, the DEM and albedo orthoimages of the landing area in truth/dem/.
"""
from __future__ import annotations

from pathlib import Path

import pytest

#: Label pose knowledge errors the tests add to the generated (exact) label models of the
#: down-look frames: pointing (deg, sigma per axis) and position (% of altitude, sigma per axis).
POINTING_ERROR_DEG = 0.1
POSITION_ERROR_PCT = 0.5


@pytest.fixture(scope="session")
def edl_sol(tmp_path_factory) -> Path:
    from rovercam.testing import make_edl_sol

    out = tmp_path_factory.mktemp("edl-sol")
    # RDCAM 1500 m -> 25 m every 3rd frame (10 frames), 3 frames per up-look camera, no LCAM
    make_edl_sol(out, seed=11, rdcam_step=3, rdcam_min_alt_m=25.0, rdcam_max_alt_m=1500.0, lcam=False,
                 uplook=3)
    return out


@pytest.fixture(scope="session")
def edl_chain_frames(edl_sol):
    """Calibrated chain Frames by instrument, down-look label centres perturbed (seeded)."""
    from rovercam.testing import edl_frames

    return edl_frames(edl_sol, pointing_error_deg=POINTING_ERROR_DEG, position_error_pct=POSITION_ERROR_PCT,
                      seed=2)


@pytest.fixture(scope="session")
def edl_manifest(edl_sol):
    from rovercam.synth.truth import SolManifest

    return SolManifest.from_json((edl_sol / "truth" / "manifest.json").read_text())
