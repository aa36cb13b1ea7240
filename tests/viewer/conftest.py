"""A storage root with published synthetic panoramas for the viewer tests.

The panorama is defined analytically over azimuth and elevation (display sRGB values), so the
tests can compute what any view of it must show without the viewer's code: ``display_of``
gives the 8-bit image, and the published radiance is ``white * srgb_decode(display / 255)``,
which :func:`rovercam.radiometry.to_display` (the tiles' encoder) maps back to ``display``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from rovercam.catalog import Catalog
from rovercam.mosaic.model import Mosaic
from rovercam.mosaic.projections import EquirectangularProjection
from rovercam.provenance import CalibrationLevel, Provenance
from rovercam.publish import publish_mosaic
from rovercam.radiometry import srgb_decode
from rovercam.storage import Store

from viewer_truth import PANO_WIDTH, SOL, UNITS, WHITE, display_of


def _mosaic(name: str, instrument: str, shift_deg: float) -> Mosaic:
    proj = EquirectangularProjection.full_sphere(PANO_WIDTH)
    az, el = proj.az_el_grid()
    display = np.round(display_of(az, el, shift_deg=shift_deg)).astype(np.float32)
    radiance = (np.float32(WHITE) * srgb_decode(display / np.float32(255))).astype(np.float32)
    return Mosaic(
        name=name, sol=SOL, instrument=instrument, image=radiance, projection=proj,
        provenance=Provenance(inputs={f"SYN_{instrument}_0001": "a" * 64, f"SYN_{instrument}_0002": "b" * 64},
                              calibration={}, steps=["synthetic viewer test panorama"],
                              software_version="0.1.0", config_hash="c" * 64,
                              level=CalibrationLevel(3, UNITS)),
        start_time=dt.datetime(2021, 5, 30, 10, 0, tzinfo=dt.timezone.utc),
        display_white_radiance=WHITE,
    )


@dataclass(frozen=True)
class ViewerStore:
    root: Path
    catalog_url: str
    left_id: str
    right_id: str


@pytest.fixture(scope="session")
def viewer_store(tmp_path_factory) -> ViewerStore:
    """Storage root + catalog with a left and a right synthetic 360-degree panorama (sol 42)."""
    root = tmp_path_factory.mktemp("viewer") / "store"
    store = Store(str(root))
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    with Catalog(url) as catalog:
        left = publish_mosaic(_mosaic("SYN_NAVCAM-LEFT_EQR", "SYNCAM_LEFT", 0.0), store=store, catalog=catalog)
        right = publish_mosaic(_mosaic("SYN_NAVCAM-RIGHT_EQR", "SYNCAM_RIGHT", 2.0), store=store, catalog=catalog)
    (root / "secret.txt").write_text("not a catalog file")
    return ViewerStore(root, url, left.output_id, right.output_id)


@pytest.fixture(scope="session")
def library(viewer_store):
    from rovercam.viewer import Library

    lib = Library(Catalog(viewer_store.catalog_url), Store(str(viewer_store.root)))
    yield lib
    lib.catalog.close()


@pytest.fixture(scope="session")
def server_url(library):
    from rovercam.viewer import running_server

    with running_server(library) as url:
        yield url


@dataclass(frozen=True)
class StereoStore:
    root: Path
    catalog_url: str
    stereo_id: str
    terrain_id: str


@pytest.fixture(scope="session")
def stereo_store(tmp_path_factory) -> StereoStore:
    """Storage root + catalog with one analytic stereo output and one terrain output (sol 42),
    published through rovercam.publish.publish_files like the stereo stage's outputs."""
    from rovercam.testing.stereo import publish_stereo_output, publish_terrain_output

    root = tmp_path_factory.mktemp("viewer-stereo") / "store"
    store = Store(str(root))
    url = f"sqlite:///{root / 'catalog.sqlite'}"
    with Catalog(url) as catalog:
        stereo = publish_stereo_output(store, catalog, sol=SOL, name="SYN_NAVCAM_STEREO_0001")
        terrain = publish_terrain_output(store, catalog, sol=SOL, name="SYN_TERRAIN_SITE_0001")
    return StereoStore(root, url, stereo.output_id, terrain.output_id)


@pytest.fixture(scope="session")
def stereo_library(stereo_store):
    from rovercam.viewer import Library

    lib = Library(Catalog(stereo_store.catalog_url), Store(str(stereo_store.root)))
    yield lib
    lib.catalog.close()


@pytest.fixture(scope="session")
def stereo_url(stereo_library):
    from rovercam.viewer import running_server

    with running_server(stereo_library) as url:
        yield url
