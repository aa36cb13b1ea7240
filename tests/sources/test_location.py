"""Source locations a run must not read are refused before anything is listed or fetched.

Truth: the rules of rovercam.sources.location (system folders, credentials in URLs, the storage
root and the parts of it the pipeline writes, rovercam.layout), and that open_source applies them.
"""
from __future__ import annotations

import pytest

from rovercam.config import load
from rovercam.errors import SourceError
from rovercam.layout import is_pipeline_area
from rovercam.sources import check_source, open_source


@pytest.mark.parametrize("spec, reason", [
    ("file:///etc", "system folder"),
    ("/etc", "system folder"),
    ("/etc/ssl", "system folder"),
    ("file:///", "whole tree"),
    ("/", "whole tree"),
    ("file:///proc/self", "system folder"),
    ("/dev", "system folder"),
    ("/usr/lib/../../etc", "system folder"),     # resolved before it is judged
    ("/tmp", "whole tree"),
    ("file://otherhost/data", "another host"),
    ("https://user:secret@archive.example/vol/", "credentials"),
    ("s3://KEY:SECRET@bucket/m2020", "credentials"),
    ("ftp://anonymous@ftp.example/pub", "credentials"),
    ("/data/drop\x00/x", "control characters"),
    ("https://archive.example/vol/\n", "control characters"),
    ("/data/" + "a" * 5000, "at most"),
    ("", "nothing"),
])
def test_refused_locations(spec, reason):
    with pytest.raises(SourceError, match=reason) as info:
        check_source(spec)
    assert "secret" not in str(info.value).lower()  # a refused URL's password is never echoed
    assert len(str(info.value)) < 600


def test_a_symlink_to_a_system_folder_is_refused(tmp_path):
    (tmp_path / "drop").symlink_to("/etc")
    with pytest.raises(SourceError, match="system folder"):
        check_source(str(tmp_path / "drop"))


@pytest.mark.parametrize("relative, reason", [
    ("", "storage root itself"),
    ("incoming/sol00100", "incoming/"),
    ("work", "work/"),
    ("sol00100/mosaics", "sol00100/"),
    ("quarantine", "quarantine/"),
    (".versions", ".versions/"),
])
def test_source_inside_what_the_pipeline_writes_is_refused(tmp_path, relative, reason):
    root = tmp_path / "root"
    with pytest.raises(SourceError, match=reason):
        check_source(str(root / relative) if relative else str(root), str(root))
    with pytest.raises(SourceError, match=reason):
        check_source("file://" + (str(root / relative) if relative else str(root)), str(root) + "/")


def test_storage_root_inside_the_source_is_refused(tmp_path):
    with pytest.raises(SourceError, match="lies inside the source"):
        check_source(str(tmp_path), str(tmp_path / "root"))
    with pytest.raises(SourceError, match="lies inside the source"):
        check_source("s3://bucket/m2020", "s3://bucket/m2020/processed")
    with pytest.raises(SourceError, match="storage root itself"):
        check_source("s3://bucket/m2020/", "s3://bucket//m2020")


@pytest.mark.parametrize("spec, root", [
    ("{tmp}/drop", "{tmp}/root"),
    ("{tmp}/root/synthetic/sol00100/raw", "{tmp}/root"),   # where `rovercam demo` generates its sol
    ("{tmp}/root-other", "{tmp}/root"),                     # a sibling sharing the name's start
    ("s3://bucket/raw", "s3://bucket/processed"),
    ("https://archive.example/vol/", "{tmp}/root"),
    ("s3://bucket/raw", "{tmp}/root"),
])
def test_accepted_locations(tmp_path, spec, root):
    spec, root = spec.format(tmp=tmp_path), root.format(tmp=tmp_path)
    assert check_source(spec, root) == spec


def test_open_source_applies_the_rules_with_the_settings_root(tmp_path):
    settings = load(None, overrides={"storage": {"root": str(tmp_path / "root")}})
    with pytest.raises(SourceError, match="system folder"):
        open_source("file:///etc")
    with pytest.raises(SourceError, match="incoming/"):
        open_source(str(tmp_path / "root" / "incoming"), settings=settings)
    assert open_source(str(tmp_path / "drop"), settings=settings) is not None


def test_pipeline_areas():
    assert [is_pipeline_area(p) for p in ("incoming", "work/sol00001", "sol12345", "unknown-sol/x",
                                         ".tmp", "catalog.sqlite")] == [True] * 6
    assert [is_pipeline_area(p) for p in ("synthetic/sol00100", "drop", "solar", "sol1", "")] == [False] * 5
