"""An S3 endpoint for storage tests: one moto server per session on a free 127.0.0.1 port."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from rovercam.storage import Store


@pytest.fixture(scope="session")
def moto_s3_server() -> Iterator[dict[str, Any]]:
    """``{"root": "s3://rovercam", "storage_options": {...}}`` of a running moto S3 server."""
    pytest.importorskip("moto", reason="moto is not installed (pip install 'rovercam[test]')")
    pytest.importorskip("s3fs", reason="s3fs is not installed (pip install 'rovercam[test]')")
    from rovercam.testing import moto_s3

    with moto_s3() as server:
        yield server


@pytest.fixture
def s3_store(moto_s3_server: dict[str, Any]) -> Store:
    """A Store on a fresh prefix of the moto bucket (``s3://rovercam/<uuid>``)."""
    return Store(f"{moto_s3_server['root']}/{uuid.uuid4().hex}",
                 storage_options=moto_s3_server["storage_options"])
