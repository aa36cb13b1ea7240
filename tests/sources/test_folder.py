"""Local folders: the accepted layouts, grouping (agreeing with ingest.discover), names, errors.

Truth: the layouts documented in rovercam/sources/layout.py and docs/sources.md, and
rovercam.ingest.discover (the entries ingest will read from a fetched folder).
"""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from rovercam.errors import RovercamError, SourceError
from rovercam.ingest import discover
from rovercam.sources import (
    FeedSource,
    FilesystemSource,
    HttpVolumeSource,
    TransientSourceError,
    group_files,
    open_source,
    sol_of_folder,
    unsafe_reason,
)


def _pid(sol: int, i: int = 0) -> str:
    return f"NLF_{sol:04d}_06758248{i:02d}_443ECM_N0031152NCAM00530_01_2LUJ01"


def _touch(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    return path


@pytest.mark.parametrize("layout, sol_dir", [
    ("drop lower", "sol{sol:05d}"),
    ("drop upper", "SOL{sol:05d}"),
    ("PDS3 volume", "DATA/SOL{sol:05d}"),
    ("M2020 bundle", "sol/{sol:05d}"),
    ("M2020 bundle under data", "data/sol/{sol:05d}"),
])
def test_sol_folder_layouts(tmp_path, layout, sol_dir):
    for sol in (12, 13):
        _touch(tmp_path / "root" / sol_dir.format(sol=sol) / "ids" / "edr" / f"{_pid(sol)}.IMG")
    _touch(tmp_path / "root" / "DOCUMENT" / "README.TXT")
    src = open_source(str(tmp_path / "root"))
    assert src.sols() == [12, 13], layout
    assert [p.primary for p in src.list(13)] == [f"ids/edr/{_pid(13)}.IMG"]
    assert src.list(14) == []


def test_a_folder_that_is_one_sol(tiny_sol):
    src = open_source(str(tiny_sol))  # .../sol00100 with raw/, calibration/, truth/
    assert src.sols() == [100]
    products = src.list(100)
    assert [Path(p.primary).parent.name for p in products] == ["raw"] * len(products)
    assert len(products) == len(list((tiny_sol / "raw").glob("*.IMG")))


def test_a_flat_folder_takes_sols_from_product_ids(tmp_path):
    for sol, i in ((7, 0), (7, 1), (9, 0)):
        _touch(tmp_path / "drop" / f"{_pid(sol, i)}.IMG")
    _touch(tmp_path / "drop" / "notes.IMG")  # no product id: no sol
    src = open_source(f"file://{tmp_path / 'drop'}")
    assert src.sols() == [7, 9]
    assert len(src.list(7)) == 2


def test_fetch_from_a_folder_then_only_the_new_one(tiny_sol, tmp_path):
    root = tmp_path / "root"
    raw = sorted((tiny_sol / "raw").glob("*.IMG"))
    (root / "sol00100").mkdir(parents=True)
    for p in raw[:4]:
        shutil.copy2(p, root / "sol00100" / p.name)
    src = open_source(str(root))
    dest = tmp_path / "store" / "incoming" / "sol00100"
    first = src.fetch(src.list(100), dest)
    assert len(first.new) == 4
    assert [str(p) for p in discover(dest)] == sorted(first.new_paths)
    assert src.fetch(src.list(100), dest).new == ()
    extra = raw[6]
    shutil.copy2(extra, root / "sol00100" / extra.name)
    third = src.fetch(src.list(100), dest)
    assert [p.name for p in third.new] == [extra.name]
    skipped = src.fetch(src.list(100), tmp_path / "other", already=lambda p: p.name == extra.name)
    assert skipped.skipped == (extra.name,) and len(skipped.new) == 4


def test_a_missing_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such folder") as info:
        open_source(str(tmp_path / "absent")).sols()
    assert str(tmp_path / "absent") in str(info.value)


NAMES_AND_GROUPS = [
    # attached label: the data file alone
    (["A.IMG"], [("A.IMG", ["A.IMG"])]),
    # PDS3 detached: data first, label last; case-insensitive pairing
    (["B.lbl", "B.IMG"], [("B.lbl", ["B.IMG", "B.lbl"])]),
    # MER x.img.lbl with x.img
    (["c.img.lbl", "c.img"], [("c.img.lbl", ["c.img", "c.img.lbl"])]),
    # PDS4 label with its data file
    (["D.xml", "D.IMG"], [("D.xml", ["D.IMG", "D.xml"])]),
    # raw-site image + sidecar: the image is the entry
    (["E.png", "E-metadata.json"], [("E.png", ["E.png", "E-metadata.json"])]),
    # a sidecar without its image stands alone; browse images and notes are not products
    (["F-metadata.json", "G.jpg", "README.TXT"], [("F-metadata.json", ["F-metadata.json"])]),
    # a label whose data file is missing is still listed (ingest reports it)
    (["H.LBL"], [("H.LBL", ["H.LBL"])]),
]


@pytest.mark.parametrize("names, groups", NAMES_AND_GROUPS)
def test_group_files(names, groups):
    assert group_files(names) == groups


@pytest.mark.parametrize("names, groups", NAMES_AND_GROUPS)
def test_group_entries_are_what_discover_returns(tmp_path, names, groups):
    for name in names:
        _touch(tmp_path / name)
    assert sorted(p.name for p in discover(tmp_path)) == sorted(e for e, _ in groups)


@pytest.mark.parametrize("name, parent, sol", [
    ("sol00100", None, 100), ("SOL00100", None, 100), ("sol_7", None, 7), ("00100", "sol", 100),
    ("00100", "DATA", None), ("solar", None, None), ("sol1234567", None, None),
])
def test_sol_of_folder(name, parent, sol):
    assert sol_of_folder(name, parent=parent) == sol


@pytest.mark.parametrize("path, safe", [
    ("a/b.IMG", True), ("X.IMG", True), ("../x", False), ("a/../x", False), ("/etc/x", False),
    ("C:x", False), ("a\\b", False), (".x", False), ("a/./b", False), ("", False),
    ("a\x00b", False),
])
def test_unsafe_reason(path, safe):
    assert (unsafe_reason(path) is None) == safe


@pytest.mark.parametrize("spec, kind", [
    ("/data/drop", FilesystemSource), ("file:///data/drop", FilesystemSource),
    ("memory://bucket/x", FilesystemSource), ("http://h/vol/", HttpVolumeSource),
    ("https://h/vol", HttpVolumeSource), ("https://h/feed.json", FeedSource),
    ("https://h/api/?feed=raw_images", FeedSource), ("https://h/api/sol/{sol}", FeedSource),
])
def test_open_source_kinds(spec, kind):
    assert type(open_source(spec)) is kind


def test_open_source_validates():
    with pytest.raises(ValueError, match="kind"):
        open_source("/x", kind="ftp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retries"):
        open_source("/x", retries=-1)
    with pytest.raises(SourceError, match="query"):
        open_source("http://h/vol/?x=1", kind="http-volume")


def test_errors_name_the_url_and_pickle():
    err = SourceError("http://h/x.IMG", "HTTP 404 Not Found")
    assert isinstance(err, RovercamError) and str(err) == "http://h/x.IMG: HTTP 404 Not Found"
    for e in (err, TransientSourceError("http://h/x", "HTTP 503", 2.0)):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e) and back.args == e.args
