"""Cache keys change exactly when what a result depends on changes (rovercam.cachekey)."""
from __future__ import annotations

from pathlib import Path

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


# --- per-stage code versions: the import closure of each stage's modules ---------------------------

def _touch(path):
    path.write_text(path.read_text() + "\n# edited\n")


@pytest.fixture()
def tree(tmp_path):
    """A copy of the rovercam package (and of benchmarks/ beside it) to edit."""
    import shutil

    import rovercam

    src = Path(rovercam.__file__).resolve().parent
    shutil.copytree(src, tmp_path / "rovercam", ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copytree(src.parent / "benchmarks", tmp_path / "benchmarks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "rovercam"


def _versions(root):
    return {stage: cachekey.stage_code_digest(stage, root=root) for stage in cachekey.STAGE_MODULES}


def test_the_copy_hashes_like_the_package(tree):
    assert _versions(tree) == {s: cachekey.stage_code_digest(s) for s in cachekey.STAGE_MODULES}


def test_editing_the_viewer_or_a_benchmark_keeps_every_stage_version(tree):
    before = _versions(tree)
    for path in sorted((tree / "viewer").glob("*.py")):
        _touch(path)
    for path in sorted((tree / "cli").glob("*.py")) or [tree / "cli.py"]:
        _touch(path)
    for path in sorted((tree.parent / "benchmarks").glob("*.py")):
        _touch(path)
    assert _versions(tree) == before


def test_editing_the_chain_changes_calibrate_and_what_follows(tree):
    before = _versions(tree)
    # rovercam/chain.py, or the last module of a rovercam/chain/ package (all of an entry package counts)
    chain = tree / "chain.py" if (tree / "chain.py").is_file() else sorted((tree / "chain").glob("*.py"))[-1]
    _touch(chain)
    after = _versions(tree)
    assert after["calibrate"] != before["calibrate"] and after["mosaic"] != before["mosaic"]


def test_editing_a_mosaic_module_changes_mosaic_not_calibrate(tree):
    before = _versions(tree)
    _touch(tree / "mosaic" / "blend.py")
    after = _versions(tree)
    assert after["mosaic"] != before["mosaic"] and after["calibrate"] == before["calibrate"]


def test_closure_follows_relative_imports_inside_functions_and_whole_entry_packages(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from .b import x\n    return x\n")
    (pkg / "b.py").write_text("from pkg import c\nx = 1\n")
    (pkg / "c.py").write_text("import numpy\n")
    (pkg / "unused.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text("from ..c import *\n")
    def names(files):
        return sorted(p.relative_to(pkg).as_posix() for p in files)

    assert names(cachekey.module_closure(["pkg.a"], root=pkg)) == ["__init__.py", "a.py", "b.py", "c.py"]
    assert names(cachekey.module_closure(["pkg.sub"], root=pkg)) == ["__init__.py", "c.py", "sub/__init__.py",
                                                                    "sub/d.py"]
    assert cachekey.module_closure(["other.a"], root=pkg) == []


def test_fingerprint_parts_follow_the_stage_inputs(settings):
    assert cachekey.fingerprint_parts("ingest") == ("[limits]", "ingest code")
    assert set(cachekey.fingerprint_parts("calibrate")) < set(cachekey.fingerprint_parts("mosaic"))
    fp = cachekey.fingerprint(settings, calibration="c" * 64)
    assert set(cachekey.fingerprint_parts("publish")) <= set(fp)
    changed = cachekey.fingerprint(settings.with_overrides({"mosaic": {"blend": "feather"}}), calibration="c" * 64)
    assert {k for k in fp if fp[k] != changed[k]} == {"[mosaic]"}
