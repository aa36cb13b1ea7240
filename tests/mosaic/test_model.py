"""The Mosaic hand-over blob round-trips any projection and the index map."""
from __future__ import annotations

import numpy as np

from rovercam.mosaic.model import Mosaic, dumps_mosaic, loads_mosaic
from rovercam.mosaic.projections import EquirectangularProjection
from rovercam.mosaic.surfaces import Surface
from rovercam.provenance import Provenance


def test_mosaic_blob_round_trip_with_index_map():
    proj = EquirectangularProjection.full_sphere(16, surface=Surface.ground(1.9), origin=(0.5, 0.0, -1.9))
    image = np.random.default_rng(0).random((8, 16, 3), dtype=np.float32)
    index = np.arange(8 * 16, dtype=np.int16).reshape(8, 16) % 5 - 1
    m = Mosaic("X_EQU", 7, "NAVCAM_LEFT", image, proj, Provenance(), extra={"frames": ["a", "b", "c", "d"]}, index=index)
    back = loads_mosaic(dumps_mosaic(m))
    assert back.projection == proj
    np.testing.assert_array_equal(back.image, image)
    np.testing.assert_array_equal(back.index, index)
    assert back.extra == m.extra
