"""``rovercam bench synth``: generation time and size of a synthetic sol profile.

The `full` profile (>= 150 products over all cameras, an EDL descent of >= 60 frames) has a
3-minute target on 2 cores (issue 5); ``--quick`` times the `edl` profile instead.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

__all__ = ["run"]


def _folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def run(*, quick: bool = False) -> dict[str, object]:
    """Generate one profile into a temporary folder and report time, counts and sizes."""
    from rovercam.synth import generate_sol

    profile = "edl" if quick else "full"
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-synth-") as tmp:
        out = Path(tmp) / profile
        t0 = time.perf_counter()
        manifest = generate_sol(out, profile=profile, seed=0)
        wall = time.perf_counter() - t0
        frames = manifest.frames
        return {
            "profile": profile,
            "generate_s": wall,
            "products": len(frames) + len(manifest.expected_bad),
            "cameras": len({f.instrument_id for f in frames}),
            "rdcam_frames": sum(f.instrument_id == "EDL_RDCAM" for f in frames),
            "raw_mb": _folder_mb(out / "raw"),
            "truth_mb": _folder_mb(out / "truth"),
            "cpu_count": os.cpu_count(),
        }
