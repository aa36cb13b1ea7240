"""The store on an S3 endpoint (a moto server on localhost): publish, version claims, identity.

Truth: sha256 of the bytes given, the layout of rovercam/storage/store.py, S3's create-only
PUT (``If-None-Match: *``, which moto implements), and the local-disk store for byte identity.
"""
from __future__ import annotations

import concurrent.futures
import hashlib
import json
from pathlib import Path

from rio_cogeo.cogeo import cog_validate

from rovercam.catalog import Catalog
from rovercam.config import load
from rovercam.publish import audit_published, publish_mosaic
from rovercam.storage import Store
from rovercam.testing import sample_mosaic


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_s3_publish_versions_and_reuse(s3_store: Store) -> None:
    assert not s3_store.is_local and s3_store.url("p/a").startswith("s3://rovercam/")
    v1 = s3_store.publish("p", {"a.tif": b"cog-1", "b.png": b"png-1"})
    assert (v1.version, v1.reused) == (1, False)
    assert s3_store.publish("p", {"a.tif": b"cog-1", "b.png": b"png-1"}).reused
    v2 = s3_store.publish("p", {"a.tif": b"cog-2", "b.png": b"png-1"})
    assert v2.version == 2 and s3_store.read_bytes("p/v1/a.tif") == b"cog-1"
    assert json.loads(s3_store.read_bytes("p/LATEST")) == {"version": 2, "files": v2.sha256}
    assert s3_store.committed_versions("p") == {1: v1.sha256, 2: v2.sha256}
    assert s3_store.list() == ["p/LATEST", "p/v1/a.tif", "p/v1/b.png", "p/v2/a.tif", "p/v2/b.png"]
    assert s3_store.fs.find(f"{s3_store.root}/.tmp") == []  # staging cleaned


def test_s3_version_claims_are_create_only(s3_store: Store) -> None:
    # moto honours If-None-Match: * on PUT (as AWS S3 does since 2024): the second claim fails.
    assert s3_store._claim("p", 1) is not None  # the claim's token
    assert s3_store._claim("p", 1) is None


def test_publisher_that_loses_the_claim_takes_the_next_version(s3_store: Store) -> None:
    # Another process claimed v1 and is still writing it: we must not touch v1.
    assert s3_store._claim("p", 1)
    mine = s3_store.publish("p", {"a": b"mine"})
    assert mine.version == 2 and not s3_store.list("p/v1")
    assert s3_store.latest("p").version == 2
    assert s3_store.committed_versions("p") == {2: {"a": sha(b"mine")}}


def test_concurrent_s3_publishers_take_distinct_versions(s3_store: Store) -> None:
    contents = [f"content-{i}".encode() for i in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: s3_store.publish("p", {"a": c, "b": c * 2}), contents))
    assert sorted(r.version for r in results) == [1, 2, 3, 4]
    committed = s3_store.committed_versions("p")
    for r, c in zip(results, contents):  # each version holds exactly its publisher's bytes
        assert committed[r.version] == {"a": sha(c), "b": sha(c * 2)}
        assert s3_store.read_bytes(f"p/v{r.version}/a") == c
    assert s3_store.latest("p").version == 4  # LATEST never moves back


def test_same_sol_on_s3_and_local_disk_is_byte_identical(s3_store: Store, tmp_path: Path) -> None:
    local = Store(str(tmp_path / "store"))
    mosaics = [sample_mosaic(0), sample_mosaic(3, instrument="NAVCAM_RIGHT", width=600, height=200)]
    with Catalog(tmp_path / "a.db") as cat_local, Catalog(tmp_path / "b.db") as cat_s3:
        for m in mosaics:
            a = publish_mosaic(m, store=local, catalog=cat_local)
            b = publish_mosaic(m, store=s3_store, catalog=cat_s3)
            assert (a.output_id, a.published.keys) == (b.output_id, b.published.keys)
            for key in a.published.keys.values():  # COG, PNG preview, thumbnail, STAC item
                assert s3_store.read_bytes(key) == local.read_bytes(key), key
            cog = tmp_path / "from_s3.tif"
            cog.write_bytes(s3_store.read_bytes(b.cog_key))
            assert cog_validate(str(cog))[0]
        assert audit_published(s3_store, cat_s3) == []
        assert audit_published(local, cat_local) == []
    assert local.list() == s3_store.list()


def test_storage_options_come_from_the_configuration(moto_s3_server: dict) -> None:
    options = moto_s3_server["storage_options"]
    inline = ", ".join(f'{k} = "{v}"' for k, v in options.items() if isinstance(v, str))
    settings = load(environ={"ROVERCAM_STORAGE__ROOT": f"{moto_s3_server['root']}/configured",
                             "ROVERCAM_STORAGE__OPTIONS": f"{{{inline}}}",
                             "ROVERCAM_CATALOG__URL": "sqlite://"})
    assert settings.storage.options["endpoint_url"] == options["endpoint_url"]
    store = Store(settings.storage_root, storage_options=dict(settings.storage.options))
    store.publish("p", {"a": b"1"})
    assert store.read_bytes("p/v1/a") == b"1"


def test_default_configuration_has_no_storage_options() -> None:
    assert load(environ={}).storage.options == {}
