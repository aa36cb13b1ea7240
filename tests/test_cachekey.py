"""Cache keys change exactly when what a result depends on changes (rovercam.cachekey)."""
from __future__ import annotations

import pytest

from rovercam import cachekey
from rovercam.config import load


@pytest.fixture(scope="module")
def settings():
    return load(environ={})


def test_keys_follow_the_sections_each_stage_depends_on(settings):
    mosaic_change = settings.with_overrides({"mosaic": {"blend": "feather"}})
    chain_change = settings.with_overrides({"chain": {"debayer": "bilinear"}})
    publish_change = settings.with_overrides({"publish": {"thumbnail_max_side": 256}})
    storage_change = settings.with_overrides({"storage": {"root": "/elsewhere"}})
    cal = cachekey.calibrate_key("ab" * 32, settings, calibration="c")
    assert cachekey.calibrate_key("ab" * 32, mosaic_change, calibration="c") == cal
    assert cachekey.calibrate_key("ab" * 32, publish_change, calibration="c") == cal
    assert cachekey.calibrate_key("ab" * 32, storage_change, calibration="c") == cal  # where, not what
    assert cachekey.calibrate_key("ab" * 32, chain_change, calibration="c") != cal
    assert cachekey.calibrate_key("cd" * 32, settings, calibration="c") != cal  # other content
    assert cachekey.calibrate_key("ab" * 32, settings, calibration="d") != cal  # other calibration files
    m = cachekey.mosaic_key("M", ["k2", "k1"], settings)
    assert m == cachekey.mosaic_key("M", ["k1", "k2"], settings)  # frame order does not matter
    assert cachekey.mosaic_key("M", ["k1", "k2"], mosaic_change) != m
    assert cachekey.mosaic_key("M", ["k1", "k3"], settings) != m
    assert cachekey.publish_key(m, publish_change) != cachekey.publish_key(m, settings)
    assert cachekey.publish_key(m, mosaic_change) == cachekey.publish_key(m, settings)


def test_code_version_names_the_release_and_the_sources():
    import rovercam

    v = cachekey.code_version()
    assert v.startswith(rovercam.__version__ + "+") and len(v.split("+")[1]) == 12


def test_product_content_covers_label_and_data_files(tmp_path):
    (tmp_path / "X.LBL").write_text("label")
    (tmp_path / "X.IMG").write_bytes(b"\0" * 10)
    (tmp_path / "Y.IMG").write_bytes(b"other product")
    before = cachekey.product_content_sha256(tmp_path / "X.LBL")
    (tmp_path / "Y.IMG").write_bytes(b"changed other product")
    assert cachekey.product_content_sha256(tmp_path / "X.LBL") == before
    (tmp_path / "X.IMG").write_bytes(b"\1" * 10)  # the data file changed, the label did not
    assert cachekey.product_content_sha256(tmp_path / "X.LBL") != before


def test_calibration_fingerprint_sees_a_replaced_lut(tmp_path, settings):
    lut = tmp_path / "luts" / "L.txt"
    lut.parent.mkdir()
    lut.write_text("1 2 3")
    s = settings.with_overrides({"calibration": {"search_path": [str(tmp_path)]}})
    before = cachekey.calibration_fingerprint(s)
    lut.write_text("1 2 3 4")
    assert cachekey.calibration_fingerprint(s) != before
