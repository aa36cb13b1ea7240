"""Stereo pairs within a sol (rovercam.pipeline.pairing): which frames pair, and why others do not.

Truth: the metadata the test writes (partners as config/cameras/m2020.toml declares them).
"""
from __future__ import annotations

import datetime as dt

import pytest

from rovercam.config import load
from rovercam.pipeline.pairing import pair_frames
from rovercam.pipeline.stereo import partner_lookup
from rovercam.products.model import ProductMeta, Subframe

T0 = dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc)
PARTNERS = {"NAVCAM_LEFT": "NAVCAM_RIGHT", "NAVCAM_RIGHT": "NAVCAM_LEFT", "MCZ_LEFT": "MCZ_RIGHT",
            "MCZ_RIGHT": "MCZ_LEFT"}


def partner(mission: str, instrument: str) -> str | None:
    return PARTNERS.get(instrument)


def meta(pid: str, instrument: str, t_s: float, **kw) -> ProductMeta:
    fields = dict(sol=100, site=3, drive=42, sequence_id="NCAM00530", start_time=T0 + dt.timedelta(seconds=t_s))
    fields.update(kw)
    return ProductMeta(pid, "M2020", instrument, **fields)


def test_left_and_right_of_one_sequence_pair_nearest_in_time():
    frames = [meta("R1", "NAVCAM_RIGHT", 0.4), meta("L1", "NAVCAM_LEFT", 0.0), meta("L2", "NAVCAM_LEFT", 14.0),
              meta("R2", "NAVCAM_RIGHT", 14.3), meta("SHERLOC", "SHERLOC_WATSON", 1.0)]
    out = pair_frames(frames, partner, tolerance_s=2.0)
    assert [(p.left, p.right) for p in out.pairs] == [("L1", "R1"), ("L2", "R2")]
    assert out.pairs[0].dt_s == pytest.approx(0.4) and (out.pairs[0].site, out.pairs[0].drive) == (3, 42)
    assert out.pairs[0].name == "L1"
    assert out.unpaired == ()  # a camera without a stereo partner is no stereo frame


def test_each_right_frame_pairs_once_and_the_loser_is_reported():
    frames = [meta("L1", "NAVCAM_LEFT", 0.0), meta("L2", "NAVCAM_LEFT", 0.2), meta("R1", "NAVCAM_RIGHT", 0.1)]
    out = pair_frames(frames, partner, tolerance_s=2.0)
    assert [(p.left, p.right) for p in out.pairs] == [("L1", "R1")]
    [u] = out.unpaired
    assert u.product_id == "L2" and "no NAVCAM_RIGHT frame" in u.reason


@pytest.mark.parametrize("right, reason", [
    (meta("R", "NAVCAM_RIGHT", 5.0), "within 2 s"),
    (meta("R", "NAVCAM_RIGHT", 0.1, sequence_id="NCAM00531"), "sequence NCAM00530"),
    (meta("R", "NAVCAM_RIGHT", 0.1, drive=43), "drive 42"),
    (meta("R", "NAVCAM_RIGHT", 0.1, subframe=Subframe(1, 1, 960, 1280)), "subframe"),
])
def test_frames_that_do_not_match_are_reported_with_the_reason(right, reason):
    out = pair_frames([meta("L", "NAVCAM_LEFT", 0.0), right], partner, tolerance_s=2.0)
    assert out.pairs == ()
    by_id = {u.product_id: u.reason for u in out.unpaired}
    assert set(by_id) == {"L", "R"}
    assert reason in by_id["L"], by_id


def test_sizes_and_zoom_must_match():
    left, right = meta("L", "MCZ_LEFT", 0.0, zoom_position=9000), meta("R", "MCZ_RIGHT", 0.0, zoom_position=9000)
    assert len(pair_frames([left, right], partner, tolerance_s=2.0).pairs) == 1
    shapes = {"L": (1200, 1648), "R": (1200, 1600)}
    [u, _] = pair_frames([left, right], partner, tolerance_s=2.0, shapes=shapes).unpaired
    assert "size 1648x1200 != 1600x1200" in u.reason
    zoomed = meta("R", "MCZ_RIGHT", 0.0, zoom_position=2000)
    assert "zoom 9000 != 2000" in pair_frames([left, zoomed], partner, tolerance_s=2.0).unpaired[0].reason
    focal = (meta("L", "MCZ_LEFT", 0.0, focal_length_mm=34.0), meta("R", "MCZ_RIGHT", 0.0, focal_length_mm=110.0))
    assert "focal length" in pair_frames(list(focal), partner, tolerance_s=2.0).unpaired[0].reason


def test_the_spacecraft_clock_stands_in_for_a_missing_start_time():
    frames = [meta("L", "NAVCAM_LEFT", 0, start_time=None, sclk=100.0),
              meta("R", "NAVCAM_RIGHT", 0, start_time=None, sclk=101.0)]
    assert len(pair_frames(frames, partner, tolerance_s=2.0).pairs) == 1
    assert pair_frames(frames, partner, tolerance_s=0.5).pairs == ()


def test_partners_come_from_the_camera_registry():
    lookup = partner_lookup(load(environ={}))
    assert lookup("M2020", "NAVCAM_LEFT") == "NAVCAM_RIGHT"
    assert lookup("M2020", "FRONT_HAZCAM_RIGHT_A") == "FRONT_HAZCAM_LEFT_A"
    assert lookup("M2020", "NO_SUCH_CAMERA") is None


def test_a_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="tolerance_s"):
        pair_frames([], partner, tolerance_s=-1.0)
