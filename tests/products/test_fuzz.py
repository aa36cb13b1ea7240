"""Mutation fuzz of every reader: only ProductError, never a slow input.

Seeds are synthetic PDS3 (attached + VICAR, detached), PDS4, pure VICAR and raw-site products,
plus the real products when ../shared/realdata is present (rovercam.testing.fuzz_readers). The
10,000-input run is part of ``rovercam bench ingest``; here a small one runs by default and the
full one (about 20 s) only when ROVERCAM_SLOW_TESTS=1 is set, e.g.
``ROVERCAM_SLOW_TESTS=1 pytest -m slow tests/products/test_fuzz.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from rovercam.testing import fuzz_readers

REALDATA = Path(__file__).resolve().parents[2].parent / "shared" / "realdata"
MAX_S = 2.0  # s per input: the bound for a hang-free reader


def test_fuzz_small():
    report = fuzz_readers(300, seed=11, realdata=REALDATA)
    assert report.inputs == 300
    assert report.failures == []
    assert report.max_s < MAX_S, report.slowest
    assert report.rejected > 0 and report.accepted > 0  # the mutator both breaks and spares


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ROVERCAM_SLOW_TESTS") != "1",
                    reason="10,000-input fuzz: set ROVERCAM_SLOW_TESTS=1 (or run the benchmark)")
def test_fuzz_ten_thousand():
    report = fuzz_readers(10_000, seed=12, realdata=REALDATA)
    assert report.failures == [], report.failures[:5]
    assert report.max_s < MAX_S, report.slowest
