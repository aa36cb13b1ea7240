"""An S3 prefix as a source, against a moto S3 server on 127.0.0.1 (skipped without moto/s3fs).

Truth: the generator's products, byte for byte after the round trip through the bucket.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rovercam.config import load
from rovercam.errors import ProductError
from rovercam.products import read_product
from rovercam.sources import FilesystemSource, open_source


@pytest.fixture(scope="module")
def moto_server() -> Iterator[dict[str, Any]]:
    pytest.importorskip("moto", reason="moto is not installed (pip install 'rovercam[test]')")
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'rovercam[test]')")
    pytest.importorskip("boto3", reason="boto3 is not installed (pip install 'rovercam[test]')")
    from rovercam.testing import moto_s3

    with moto_s3(bucket="sources") as server:
        yield server


def test_s3_prefix_list_fetch_refetch(moto_server, tiny_sol, tmp_path):
    import s3fs

    options = moto_server["storage_options"]
    fs = s3fs.S3FileSystem(**options)
    prefix = f"sources/{uuid.uuid4().hex}/m2020"
    raw = sorted((tiny_sol / "raw").glob("*.IMG"))
    for p in raw[:3]:
        fs.put_file(str(p), f"{prefix}/DATA/SOL00100/{p.name}")
    fs.put_file(str(raw[3]), f"{prefix}/DATA/SOL00101/{raw[3].name}")

    settings = load(environ={}, overrides={"storage": {"options": options}})
    src = open_source(f"s3://{prefix}", settings=settings)  # storage options from [storage]
    assert isinstance(src, FilesystemSource)
    assert src.sols() == [100, 101] and src.latest_sols(1) == [101]
    products = src.list(100)
    assert [p.name for p in products] == [p.name for p in raw[:3]]
    assert all(f.etag and f.size for p in products for f in p.files)

    dest = tmp_path / "incoming" / "sol00100"
    first = src.fetch(products, dest)
    assert first.ok and len(first.new) == 3
    for p in raw[:3]:
        assert hashlib.sha256((dest / p.name).read_bytes()).digest() == \
            hashlib.sha256(p.read_bytes()).digest()
        try:
            want = read_product(p)
        except ProductError:
            continue
        np.testing.assert_array_equal(read_product(dest / p.name).image, want.image)

    assert src.fetch(src.list(100), dest).new == ()
    fs.put_file(str(raw[4]), f"{prefix}/DATA/SOL00100/{raw[4].name}")
    third = src.fetch(src.list(100), dest)  # the listing cache is not stale
    assert [p.name for p in third.new] == [raw[4].name]
    assert Path(third.new[0].path) == dest / raw[4].name
