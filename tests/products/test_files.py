"""Which files make one product (rovercam.products.files).

Truth: the pairing rules of the PDS3 and PDS4 standards as the readers apply them (a detached
label names its data file by the same stem; MER ``x.img.lbl`` describes ``x.img``) and the
raw-image site's ``X.png`` + ``X-metadata.json`` pairs. Every case of the three former
implementations (discovery, remote sources, content hashes) is listed here.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import fsspec
import numpy as np
import pytest

from rovercam import cachekey, ingest
from rovercam.catalog import Catalog
from rovercam.products import Limits
from rovercam.products.files import group_files, product_entries, product_files, product_members
from rovercam.storage import Store

GROUPS = [
    # attached label or pure VICAR: the data file alone
    (["A.IMG"], [("A.IMG", ["A.IMG"])]),
    (["V.vic", "W.DAT"], [("V.vic", ["V.vic"]), ("W.DAT", ["W.DAT"])]),
    # PDS3 detached: data first, label last; case-insensitive pairing
    (["B.lbl", "B.IMG"], [("B.lbl", ["B.IMG", "B.lbl"])]),
    (["A.LBL", "a.img"], [("A.LBL", ["a.img", "A.LBL"])]),
    (["K.LBL", "K.DAT"], [("K.LBL", ["K.DAT", "K.LBL"])]),
    # MER x.img.lbl describes x.img only
    (["c.img.lbl", "c.img"], [("c.img.lbl", ["c.img", "c.img.lbl"])]),
    (["c.img.lbl", "c.dat"], [("c.img.lbl", ["c.img.lbl"]), ("c.dat", ["c.dat"])]),
    # PDS4 label with its data file
    (["D.xml", "D.IMG"], [("D.xml", ["D.IMG", "D.xml"])]),
    # raw-site image + sidecar: the image is the entry
    (["E.png", "E-metadata.json"], [("E.png", ["E.png", "E-metadata.json"])]),
    (["E.JPG", "e-metadata.json"], [("E.JPG", ["E.JPG", "e-metadata.json"])]),
    # a sidecar without its image stands alone; browse images and notes are not products
    (["F-metadata.json", "G.jpg", "README.TXT"], [("F-metadata.json", ["F-metadata.json"])]),
    # a label whose data file is missing is still listed (ingest reports it)
    (["H.LBL"], [("H.LBL", ["H.LBL"])]),
    # a browse image beside a labelled product is not one of its files
    (["X.LBL", "X.IMG", "X.jpg"], [("X.LBL", ["X.IMG", "X.LBL"])]),
    # names differing only in case: the first in sorted order
    (["Z.IMG", "z.img"], [("Z.IMG", ["Z.IMG"])]),
]


@pytest.mark.parametrize("names, groups", GROUPS)
def test_group_files(names, groups):
    assert group_files(names) == groups
    assert group_files(reversed(names)) == groups  # the listing order does not matter
    assert product_entries(names) == [e for e, _ in groups]


@pytest.mark.parametrize("names, groups", GROUPS)
def test_every_member_names_its_product(names, groups):
    for _, members in groups:
        for name in members:
            assert product_members(name, names) == members


@pytest.mark.parametrize("name, names, members", [
    ("G.jpg", ["G.jpg", "G.txt"], ["G.jpg"]),  # no product: the file alone
    ("absent.IMG", ["A.IMG"], ["absent.IMG"]),
    ("X.jpg", ["X.LBL", "X.IMG", "X.jpg"], ["X.jpg"]),
])
def test_files_of_no_product_stand_alone(name, names, members):
    assert product_members(name, names) == members


def test_product_files_lists_the_folder(tmp_path):
    for n in ("X.LBL", "X.IMG", "X.jpg", "Y.IMG"):
        (tmp_path / n).write_bytes(n.encode())
    (tmp_path / "X.LBL.d").mkdir()  # a folder is never a member
    assert product_files(tmp_path / "X.LBL") == [tmp_path / "X.IMG", tmp_path / "X.LBL"]
    assert product_files(tmp_path / "X.IMG") == [tmp_path / "X.IMG", tmp_path / "X.LBL"]
    assert product_files(tmp_path / "Y.IMG") == [tmp_path / "Y.IMG"]


def test_content_digest_covers_the_sidecar_not_a_browse_image(tmp_path):
    (tmp_path / "E.png").write_bytes(b"png")
    (tmp_path / "E-metadata.json").write_text("{}")
    before = cachekey.product_content_sha256(tmp_path / "E.png")
    (tmp_path / "E-metadata.json").write_text('{"sol": 1}')
    assert cachekey.product_content_sha256(tmp_path / "E.png") != before
    (tmp_path / "X.LBL").write_text("label")
    (tmp_path / "X.IMG").write_bytes(b"data")
    (tmp_path / "X.jpg").write_bytes(b"browse")
    before = cachekey.product_content_sha256(tmp_path / "X.LBL")
    (tmp_path / "X.jpg").write_bytes(b"another browse")
    assert cachekey.product_content_sha256(tmp_path / "X.LBL") == before


def test_a_remote_raw_site_image_is_read_with_its_sidecar(tmp_path):
    # memory:// stands in for s3://; the sidecar must travel with the image
    stem = "NLF_0670_0726421423_362ECM_N0320604NCAM08111_01_095J01"
    image = np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3)
    meta = {"instrument": "NAVCAM_LEFT", "sol": 670, "site": 32, "drive": 604,
            "subframe_rect": [1.0, 1.0, 16.0, 12.0], "scale_factor": 1}
    fs = fsspec.filesystem("memory")
    prefix = f"/files-test-{os.getpid()}/sol670"
    fs.pipe_file(f"{prefix}/{stem}.png", cv2.imencode(".png", image)[1].tobytes())
    fs.pipe_file(f"{prefix}/{stem}-metadata.json", json.dumps(meta).encode())
    fs.pipe_file(f"{prefix}/notes.txt", b"not a product")
    try:
        found = ingest.discover(f"memory://{prefix}")
        assert [u.rsplit("/", 1)[1] for u in found] == [f"{stem}.png"]
        with Catalog(f"sqlite:///{Path(tmp_path) / 'c.db'}") as catalog:
            result = ingest.ingest_one(found[0], limits=Limits(), store=Store(str(tmp_path / "s")),
                                       catalog=catalog)
        assert result.state == "ingested", result.reason
        assert result.sol == 670
    finally:
        fs.rm(prefix.rsplit("/", 1)[0], recursive=True)
