"""A published mosaic's COG reads back without a warning, whatever its projection.

Every projection kind is published through :func:`rovercam.publish.publish_mosaic` and its COG
opened with rasterio with every warning an error: no ``NotGeoreferencedWarning`` for the
projections without a geotransform (polar, vertical, perspective: the identity transform is
stored), none about no-data or the CRS.

Truth: the mosaic given (pixels, NaN where uncovered), the projection's own geotransform (az/el
grids, docs/conventions.md#mosaic-georeferencing) or the identity, and the projection tags read
back by :func:`rovercam.mosaic.projections.projection_from_tags`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from rovercam.catalog import Catalog
from rovercam.mosaic.model import Mosaic
from rovercam.mosaic.projections import (
    CylindricalProjection,
    EquirectangularProjection,
    PerspectiveProjection,
    PolarProjection,
    VerticalProjection,
    projection_from_tags,
)
from rovercam.provenance import CalibrationLevel, Provenance
from rovercam.publish import publish_mosaic
from rovercam.storage import Store

START = dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc)
PROV = Provenance(inputs={"NLF_0100_0673000000_A": "a" * 64}, software_version="0.1.0", config_hash="c" * 64,
                  level=CalibrationLevel(2, "DN s-1", ("absolute responsivity",)))
H, W = 600, 1100  # more than one 512 px COG tile each way: the overviews are read too

PROJECTIONS = [
    CylindricalProjection(az_start_deg=0.0, el_top_deg=10.0, scale_deg=0.125, width=W, height=H),
    EquirectangularProjection(az_start_deg=-180.0, el_top_deg=90.0, scale_deg=0.25, width=W, height=H),
    PolarProjection(centre_x=550.0, centre_y=300.0, scale_deg=0.1, width=W, height=H),
    VerticalProjection(north_top_m=30.0, east_left_m=-55.0, scale_m=0.1, width=W, height=H),
    PerspectiveProjection(az_deg=40.0, el_deg=-10.0, focal_px=800.0, width=W, height=H),
]


def _mosaic(projection) -> Mosaic:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    image = np.dstack([0.02 + 1e-5 * x, 0.03 + 1e-5 * y, 0.04 + 0 * x]).astype(np.float32)
    image[:H // 6] = np.nan  # uncovered rows: NaN no-data in the COG
    return Mosaic(name=f"NCAM_{projection.kind}", sol=100, instrument="NAVCAM_LEFT", image=image,
                  projection=projection, provenance=PROV, start_time=START, stop_time=START,
                  display_white_radiance=0.06)


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, tuple[Mosaic, Path]]:
    tmp = tmp_path_factory.mktemp("cog-projections")
    store = Store(str(tmp / "store"))
    out = {}
    with Catalog(tmp / "catalog.db") as catalog:
        for proj in PROJECTIONS:
            m = _mosaic(proj)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # nothing may warn while publishing either
                out[proj.kind] = (m, publish_mosaic(m, store=store, catalog=catalog).cog_path)
    return out


@pytest.mark.parametrize("proj", PROJECTIONS, ids=lambda p: p.kind)
def test_published_cog_reads_without_warnings(published, proj) -> None:
    mosaic, path = published[proj.kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # also inside rasterio's and GDAL's calls
        with rasterio.open(path) as src:
            image = np.moveaxis(src.read(), 0, -1)
            nodata, crs, transform, tags = src.nodata, src.crs, src.transform, src.tags()
            overviews = src.overviews(1)
        with rasterio.open(path, overview_level=0) as half:
            half.read()
            half_transform = half.transform
    assert np.isnan(nodata) and crs is None
    expected = proj.geotransform if proj.geotransform is not None else Affine.identity()
    assert transform == expected
    assert overviews == [2, 4]
    assert half_transform == expected @ Affine.scale(2.0, 2.0)
    assert projection_from_tags(tags, W, H) == proj
    np.testing.assert_array_equal(image, mosaic.image)  # lossless, NaN in the same places


def test_projections_without_geotransform_store_the_identity(published) -> None:
    """The identity is written as GeoTIFF georeferencing keys, not left out (which is what warns)."""
    for proj in PROJECTIONS:
        if proj.geotransform is not None:
            continue
        _, path = published[proj.kind]
        with rasterio.open(path) as src:
            assert src.transform.is_identity
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_publishing_the_same_mosaic_again_reuses_it(tmp_path: Path) -> None:
    """The stored identity is deterministic: identical content publishes once."""
    store = Store(str(tmp_path / "store"))
    m = _mosaic(PROJECTIONS[2])
    with Catalog(tmp_path / "catalog.db") as catalog:
        first = publish_mosaic(m, store=store, catalog=catalog)
        again = publish_mosaic(dataclasses.replace(m), store=store, catalog=catalog)
    assert again.reused and again.version == first.version
