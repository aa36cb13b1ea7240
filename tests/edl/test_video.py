"""Videos read back with an independent reader, stabilization, contact sheet, events.

Truth: frames made by the test (known shifts; a sky with or without a striped disc), the
generator's PUCAM frames (the parachute is in every one of them: rovercam.synth.shots._edl).
"""
from __future__ import annotations

import cv2
import numpy as np

from rovercam.edl.events import detect_events, structure_fraction
from rovercam.edl.sequence import EdlFrame
from rovercam.edl.video import contact_sheet, display_frames, stabilizing_transforms
from rovercam.storage.video import mp4_frames, write_mp4


def _scene(h=300, w=400, seed=0):
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 2.0)
    return (0.05 + 0.02 * img).astype(np.float32)


def test_stabilization_undoes_known_shifts():
    big = _scene(380, 480)
    shifts = [(0, 0), (6, -3), (11, 4), (3, 9)]  # frame k = big shifted by (dx, dy)
    frames = [big[40 + dy:340 + dy, 40 + dx:440 + dx] for dx, dy in shifts]
    ms = stabilizing_transforms(frames)
    for (dx, dy), m in zip(shifts, ms):
        # frame-k pixel (x, y) shows big (x + dx, y + dy) = frame-0 pixel (x + dx, y + dy)
        np.testing.assert_allclose(m[:, 2], [dx, dy], atol=0.2)  # px, SIFT localization
        np.testing.assert_allclose(m[:, :2], np.eye(2), atol=2e-3)


def test_mp4_reads_back_with_an_independent_reader(tmp_path):
    frames = [np.repeat(_scene(seed=k)[..., None], 3, axis=2) for k in range(5)]
    shown = display_frames(frames, stabilize=False)
    assert all(f.dtype == np.uint8 and f.shape == (300, 400, 3) for f in shown)
    path = write_mp4(shown, tmp_path / "v.mp4", fps=4.0)
    # the reader decodes with OpenCV's bundled FFmpeg demuxer, not the writer's encoder path
    # (imageio has no MP4 backend installed here)
    assert [img.shape[:2] for img in mp4_frames(path)] == [(300, 400)] * 5


def test_odd_sized_frames_are_cropped_even():
    shown = display_frames([_scene(h=301, w=401)[:301, :401]], stabilize=False)
    assert shown[0].shape == (300, 400, 3)


def test_contact_sheet_lays_out_thumbnails():
    shown = display_frames([_scene(seed=k) for k in range(7)], stabilize=False)
    sheet = contact_sheet(shown, labels=[str(k) for k in range(7)], columns=3, thumb_side=100, gap=4)
    # 3 columns x 3 rows of 100 x 75 thumbnails with 4-px gaps
    assert sheet.shape == (3 * 79 + 4, 3 * 104 + 4, 3)


def sky_radiance(h=240, w=320, disc=False):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = 0.03 + 0.01 * y / h  # a smooth sky gradient
    if disc:
        r = np.hypot(x - w / 2, y - h / 2)
        ang = np.arctan2(y - h / 2, x - w / 2)
        stripes = np.where(np.sin(8 * ang) > 0, 0.08, 0.02)
        img = np.where(r < 70, stripes, img)
    rng = np.random.default_rng(1)
    return (img + rng.normal(0, 2e-4, img.shape)).astype(np.float32)


def test_parachute_coming_into_view_is_detected():
    frames = [EdlFrame(f"P{k}", "EDL_PUCAM1", float(k), sky_radiance(disc=k >= 3)) for k in range(6)]
    assert structure_fraction(frames[0].image) < 0.005
    events = detect_events(frames)
    assert [(e.kind, e.product_id) for e in events] == [("parachute_in_view", "P3")]


def test_generated_pucam_frames_show_the_parachute(edl_chain_frames):
    frames = [EdlFrame.from_chain(f) for f in edl_chain_frames["EDL_PUCAM1"]]
    events = detect_events(sorted(frames, key=lambda f: f.time_s))
    # truth: the generator puts the chute 40 m above PUCAM in every frame
    assert events and events[0].kind == "parachute_in_view"
    assert events[0].product_id == min(frames, key=lambda f: f.time_s).product_id
