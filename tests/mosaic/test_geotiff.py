"""render_geotiff's files: no-data and projection tags written and read back without any warning
(rasterio's NotGeoreferencedWarning included), and the window it reports.

Truth: the in-memory render of the same frames (render_mosaic, bit-identical to the file,
test_render.py) gives which pixels are covered, hence which tiles hold data; the projections'
own tags (``to_tags``) and the no-data values the module documents (NaN, -1).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio

from rovercam.mosaic.projections import (
    CylindricalProjection,
    PerspectiveProjection,
    PolarProjection,
    projection_from_tags,
)
from rovercam.mosaic.render import FrameStack, GeoTiffRender, RenderOptions, render_geotiff, render_mosaic
from rovercam.mosaic.warp import Window

PROJECTIONS = [
    CylindricalProjection(0.0, 8.0, 0.1, 800, 260),  # az/el geotransform
    PolarProjection.around_nadir(-5.0, 0.15),  # no geotransform: the identity, stored
    PerspectiveProjection(40.0, -5.0, 300.0, 320, 240),
]


@pytest.fixture(scope="module")
def row(scene_factory):
    return scene_factory([(az, -5.0, 0.0) for az in (20.0, 40.0, 60.0)])


@pytest.mark.filterwarnings("error")  # every warning fails the test, NotGeoreferencedWarning too
@pytest.mark.parametrize("proj", PROJECTIONS, ids=lambda p: p.kind)
def test_geotiff_writes_and_reads_back_without_warnings(row, proj, tmp_path):
    opts = RenderOptions(tile=128, levels=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # also inside rasterio's and GDAL's calls
        result = render_geotiff(FrameStack(row.geoms(), row.load), proj, tmp_path / "m.tif",
                                index_path=tmp_path / "i.tif", options=opts, tags={"MOSAIC_NAME": "T"})
        with rasterio.open(tmp_path / "m.tif") as src:
            image = np.moveaxis(src.read(), 0, -1)
            nodata, transform, tags = src.nodata, src.transform, src.tags()
        with rasterio.open(tmp_path / "i.tif") as src:
            index = src.read(1)
            index_nodata, index_tags = src.nodata, src.tags()
    assert np.isnan(nodata) and index_nodata == -1
    expected_transform = proj.geotransform if proj.geotransform is not None else rasterio.Affine.identity()
    assert transform == expected_transform
    assert projection_from_tags(tags, proj.width, proj.height) == proj and tags["MOSAIC_NAME"] == "T"
    assert index_tags["CONTENT"] == "INDEX_MAP" and index_tags["MAP_PROJECTION_TYPE"] == proj.kind

    # the window: the bounding box of the tiles that hold a covered pixel
    mem, mem_index = render_mosaic(FrameStack(row.geoms(), row.load), proj, options=opts)
    np.testing.assert_array_equal(index, mem_index)
    np.testing.assert_array_equal(image, mem)
    ys, xs = np.nonzero(mem_index >= 0)
    t = opts.tile
    expected = Window(int(xs.min()) // t * t, min(-(-(int(xs.max()) + 1) // t) * t, proj.width),
                      int(ys.min()) // t * t, min(-(-(int(ys.max()) + 1) // t) * t, proj.height))
    assert isinstance(result, GeoTiffRender) and result.window == expected
    tiles_with_data = {(x // t, y // t) for x, y in zip(xs, ys)}
    assert result.written == len(tiles_with_data) <= result.tiles
    w = result.window
    outside = np.ones(mem_index.shape, bool)
    outside[w.y0:w.y1, w.x0:w.x1] = False
    assert np.isnan(image[outside]).all() and (index[outside] == -1).all()
    # callers of the earlier dict keep working
    assert result["levels"] == result.levels == 3 and result["tiles"] == result.tiles
    with pytest.raises(KeyError):
        result["nope"]

