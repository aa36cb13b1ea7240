"""write_cog georeferencing: a geotransform alone (rover-frame az/el grids), a CRS with it (maps).

Truth: the affine given is what rasterio reads back; GDAL puts (0, 0) at the top-left corner
of the top-left pixel, so pixel centres are half a pixel in (GDAL raster data model). Angles
below are exact binary fractions, so equality is exact.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from rovercam.storage import write_cog

H, W = 600, 1100  # > 1 tile each way: overviews 2 and 4 must carry the transform too
AZ_EL = Affine(0.25, 0.0, -180.0, 0.0, -0.25, 90.0)  # degrees per pixel, left/top edges


def _image() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    return (0.02 + 1e-5 * x + 1e-5 * y).astype(np.float32)


@pytest.mark.filterwarnings("error")  # a transform alone is georeferenced: no warning of any kind
def test_transform_without_crs_is_written_and_read_back() -> None:
    data = write_cog(None, _image(), transform=AZ_EL, tags={"GEOTRANSFORM": "AZIMUTH_ELEVATION_DEG"})
    with MemoryFile(data) as mem, mem.open() as src:
        assert src.crs is None
        assert src.transform == AZ_EL
        assert src.xy(0, 0) == (-179.875, 89.875)  # centre of the top-left pixel
        assert src.xy(H - 1, W - 1) == (-180.0 + 0.25 * (W - 0.5), 90.0 - 0.25 * (H - 0.5))
        assert src.overviews(1) == [2, 4]
        np.testing.assert_array_equal(src.read(1), _image())
    with MemoryFile(data) as mem, mem.open(overview_level=0) as half:  # the same angles, pixels 2x larger
        assert half.transform == AZ_EL @ Affine.scale(W / half.width, H / half.height)


def test_transform_alone_passes_rio_cogeo_validation(tmp_path: Path) -> None:
    cogeo = pytest.importorskip("rio_cogeo.cogeo", reason="rio-cogeo (test extra) not installed")
    path = write_cog(tmp_path / "azel.tif", _image(), transform=AZ_EL)
    valid, errors, _ = cogeo.cog_validate(str(path))
    assert valid and errors == []


def test_transform_changes_the_bytes_deterministically() -> None:
    a = write_cog(None, _image(), transform=AZ_EL)
    assert write_cog(None, _image(), transform=AZ_EL) == a  # content-hash publishing relies on this
    assert write_cog(None, _image()) != a


@pytest.mark.filterwarnings("error")  # the identity is stored: no NotGeoreferencedWarning on write or read
def test_no_transform_stays_pixel_coordinates() -> None:
    data = write_cog(None, _image())
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotGeoreferencedWarning)
        with MemoryFile(data) as mem, mem.open() as src:
            assert src.crs is None and src.transform.is_identity


def test_crs_without_transform_is_refused() -> None:
    with pytest.raises(ValueError, match="a crs needs a transform"):
        write_cog(None, _image(), crs="EPSG:4326")


def test_identity_writes_from_threads_do_not_warn() -> None:
    """Products are written from worker threads; ``warnings.catch_warnings`` is process-global,
    so one thread leaving it would restore the filters under another's write. A process writing
    non-georeferenced COGs from 4 threads must print no NotGeoreferencedWarning."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from rovercam.storage import write_cog\n"
        "img = np.ones((64, 64), np.float32)\n"
        "with ThreadPoolExecutor(4) as pool:\n"
        "    list(pool.map(lambda _: write_cog(None, img), range(400)))\n"
    )
    run = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "NotGeoreferencedWarning" not in run.stderr, run.stderr[:2000]
