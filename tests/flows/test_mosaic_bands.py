"""The mosaic stage's split of a group by band count: band counts read from the stored frames'
heads (rovercam_tasks._stage.frame_bands), one mosaic name per band count.

Truth: the shapes of the frames as stored.
"""
from __future__ import annotations

import numpy as np


def test_a_group_of_gray_and_colour_frames_becomes_two_named_mosaics(tmp_path):
    from rovercam.config import load
    from rovercam.mosaic.grouping import mosaic_name, split_by_bands
    from rovercam.storage import arrayblob

    from rovercam_tasks._runtime import store_for
    from rovercam_tasks._stage import FrameRef, frame_bands

    settings = load(environ={}, overrides={"storage": {"root": str(tmp_path / "store")}})
    shapes = {"NLB_1": (8, 6), "NLB_2": (8, 6, 3), "NLB_3": (8, 6, 1), "NLB_4": (8, 6, 3)}
    refs = []
    for pid, shape in shapes.items():
        with store_for(settings).transaction(f"work/sol00001/calibrated/{pid}/k", durable=False) as txn:
            txn.put("frame.blob", arrayblob.pack(np.zeros(shape, np.float32), {"product_id": pid}))
        refs.append(FrameRef(pid, txn.keys["frame.blob"], "undistort"))
    assert [frame_bands(r, settings) for r in refs] == [1, 3, 1, 3]
    split = split_by_bands(refs, lambda r: frame_bands(r, settings))
    assert [(b, [r.product_id for r in rs]) for b, rs in split] == [(1, ["NLB_1", "NLB_3"]), (3, ["NLB_2", "NLB_4"])]
    fields = ["sequence_id", "instrument"]
    assert [mosaic_name(("NCAM00001", "NAVCAM"), fields, "cylindrical", bands=b) for b, _ in split] == \
        ["NCAM00001_NAVCAM_1BAND_CYL", "NCAM00001_NAVCAM_3BAND_CYL"]
