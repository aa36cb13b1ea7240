"""STAC items of published mosaics, validated OFFLINE against the STAC 1.1.0 item schema.

Truth: the STAC item JSON schema and GeoJSON schemas that ship inside pystac
(``pystac/validation/jsonschemas``); a registry that refuses any network retrieval makes sure
nothing is fetched.
"""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pystac
import pytest

from rovercam.catalog import item_to_bytes, mosaic_file_names, mosaic_item
from rovercam.catalog.export import validate_stac
from rovercam.catalog.stac import EXTENSIONS, AssetSpec, multihash_sha256, output_item
from rovercam.errors import CatalogError
from rovercam.mosaic.model import CylindricalProjection, Mosaic
from rovercam.provenance import Provenance
from rovercam.storage import PublishedVersion, Store

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

UTC = dt.timezone.utc


def offline_item_validator():
    from pystac.validation.local_validator import get_local_schema_cache

    cache = get_local_schema_cache()

    def refuse(uri: str):
        raise AssertionError(f"schema {uri} would be fetched from the network")

    registry = referencing.Registry(retrieve=refuse).with_resources(
        (uri, referencing.Resource.from_contents(schema, default_specification=referencing.jsonschema.DRAFT7))
        for uri, schema in cache.items()
    )
    [item_uri] = [u for u in cache if u.endswith("item-spec/json-schema/item.json")]
    assert "/v1.1.0/" in item_uri and pystac.get_stac_version() == "1.1.0"
    cls = jsonschema.validators.validator_for(cache[item_uri])
    return cls(cache[item_uri], registry=registry)


def small_mosaic(**kw) -> Mosaic:
    img = np.full((20, 40, 3), 0.03, np.float32)
    img[:5] = np.nan
    args = dict(
        name="NCAM_CYL",
        sol=100,
        instrument="NAVCAM_LEFT",
        image=img,
        projection=CylindricalProjection(az_start_deg=10.0, el_top_deg=20.0, scale_deg=0.5, width=40, height=20),
        provenance=Provenance(
            inputs={"NLF_0100_B": "b" * 64, "NLF_0100_A": "a" * 64},
            calibration={"M20_NCAM_FLAT.IMG": "f" * 64},
            steps=["decompand: M20_LUT2", "mosaic: cylindrical"],
            software_version="0.1.0",
            config_hash="c" * 64,
        ),
        start_time=dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC),
        stop_time=dt.datetime(2021, 5, 30, 10, 20, tzinfo=UTC),
    )
    args.update(kw)
    return Mosaic(**args)


def published(version: int = 3) -> PublishedVersion:
    names = mosaic_file_names("NCAM_CYL")
    return PublishedVersion("sol00100/mosaics/NCAM_CYL", version, {}, {names["data"]: "d" * 64})


def test_item_validates_against_the_stac_item_schema_offline() -> None:
    item = mosaic_item(small_mosaic(), published())
    d = json.loads(item_to_bytes(item))
    errors = sorted(offline_item_validator().iter_errors(d), key=str)
    assert errors == []
    # The validator is not vacuous: a broken item fails it.
    broken = dict(d, properties={k: v for k, v in d["properties"].items() if k != "datetime"})
    assert list(offline_item_validator().iter_errors(broken))


def test_item_content() -> None:
    m = small_mosaic()
    item = mosaic_item(m, published(3), mission="M2020")
    d = item.to_dict(include_self_link=False)
    assert d["id"] == "M2020-sol00100-NCAM_CYL-v3"
    assert d["geometry"] is None and "bbox" not in d  # rover frame: no geographic footprint
    p = d["properties"]
    assert p["datetime"] == "2021-05-30T10:00:00Z"
    assert (p["start_datetime"], p["end_datetime"]) == ("2021-05-30T10:00:00Z", "2021-05-30T10:20:00Z")
    assert p["instruments"] == ["navcam_left"] and p["platform"] == "perseverance"
    assert p["rovercam:sol"] == 100 and p["rovercam:version"] == 3
    assert p["rovercam:projection"] == m.projection.to_tags()
    # 15 of 20 rows covered, 0.03 everywhere covered (small_mosaic)
    for band in d["assets"]["data"]["raster:bands"]:
        assert band["statistics"]["valid_percent"] == pytest.approx(75.0)
        assert band["statistics"]["mean"] == pytest.approx(0.03, rel=1e-6)
        assert band["statistics"]["stddev"] == pytest.approx(0.0, abs=1e-9)
    prov = p["rovercam:provenance"]
    assert prov["inputs"] == m.provenance.inputs and prov["calibration"] == m.provenance.calibration
    assert (prov["software_version"], prov["config_hash"]) == ("0.1.0", "c" * 64)
    a = d["assets"]
    assert a["data"]["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert a["data"]["roles"] == ["data"] and a["data"]["href"] == "./NCAM_CYL.tif"
    assert a["data"]["file:checksum"] == "1220" + "d" * 64
    assert a["overview"]["type"] == "image/png" and "overview" in a["overview"]["roles"]
    assert a["thumbnail"]["roles"] == ["thumbnail"] and a["thumbnail"]["href"] == "./NCAM_CYL_thumb.png"


def test_serialised_item_is_location_independent(tmp_path) -> None:
    m = small_mosaic()
    plain = item_to_bytes(mosaic_item(m, published()))
    with_store = mosaic_item(m, published(), Store(str(tmp_path)))
    assert with_store.get_self_href().startswith("file://")
    assert with_store.assets["data"].get_absolute_href().endswith(
        "sol00100/mosaics/NCAM_CYL/v3/NCAM_CYL.tif"
    )
    assert item_to_bytes(with_store) == plain  # no self link, hrefs stay relative
    again = pystac.Item.from_dict(json.loads(plain))
    assert again.id == "M2020-sol00100-NCAM_CYL-v3" and again.geometry is None


def test_naive_times_are_utc_and_missing_start_is_refused() -> None:
    item = mosaic_item(small_mosaic(start_time=dt.datetime(2021, 5, 30, 10), stop_time=None), published())
    p = item.to_dict()["properties"]
    assert p["datetime"] == p["end_datetime"] == "2021-05-30T10:00:00Z"
    with pytest.raises(CatalogError, match="start_time"):
        mosaic_item(small_mosaic(start_time=None), published())


def cube_item(**kw) -> pystac.Item:
    args = dict(
        mission="MSL", sol=7, instrument="MCZ_LEFT", name="CUBE", version=2,
        start=dt.datetime(2021, 5, 30, 10, 0), stop=dt.datetime(2021, 5, 30, 11, 0, tzinfo=UTC),
        provenance=Provenance(inputs={"ZL1_A": "a" * 64}, steps=["cube: register"]),
        assets={"data": AssetSpec("CUBE.nc", ("data",), "application/x-netcdf", "Cube")},
        sha256={"CUBE.nc": "e" * 64}, properties={"rovercam:kind": "cube"},
    )
    args.update(kw)
    return output_item(**args)


def test_output_item_builds_any_kind() -> None:
    d = json.loads(item_to_bytes(cube_item()))
    assert sorted(offline_item_validator().iter_errors(d), key=str) == []
    assert d["id"] == "MSL-sol00007-CUBE-v2"
    p = d["properties"]
    assert (p["start_datetime"], p["end_datetime"]) == ("2021-05-30T10:00:00Z", "2021-05-30T11:00:00Z")
    assert (p["platform"], p["instruments"], p["rovercam:kind"]) == ("curiosity", ["mcz_left"], "cube")
    assert p["rovercam:provenance"]["inputs"] == {"ZL1_A": "a" * 64}
    assert p["rovercam:provenance"]["calibration_level"] is None
    assert d["assets"]["data"] == {"href": "./CUBE.nc", "type": "application/x-netcdf", "roles": ["data"],
                                   "title": "Cube", "file:checksum": "1220" + "e" * 64}
    # only the extensions whose fields are used: file (checksum), ssys (Mars); no software
    # version in the provenance, so processing has only its level and lineage
    assert d["stac_extensions"] == sorted([EXTENSIONS["file"], EXTENSIONS["processing"], EXTENSIONS["ssys"]])
    assert "processing:software" not in p and p["processing:lineage"] == "cube: register"


def test_output_item_properties_cannot_replace_the_provenance() -> None:
    item = cube_item(properties={"rovercam:provenance": "forged", "platform": "forged"})
    assert item.properties["rovercam:provenance"]["steps"] == ["cube: register"]
    assert item.properties["platform"] == "curiosity"


def test_output_item_refuses_a_span_ending_before_it_starts() -> None:
    with pytest.raises(CatalogError, match="before"):
        cube_item(stop=dt.datetime(2021, 5, 30, 9, 0, tzinfo=UTC))


def test_mosaic_item_is_the_output_item_with_mosaic_properties() -> None:
    from rovercam.catalog.stac import mosaic_assets, mosaic_properties

    m = small_mosaic()
    generic = output_item(
        mission="M2020", sol=m.sol, instrument=m.instrument, name=m.name, version=3, start=m.start_time,
        stop=m.stop_time, provenance=m.provenance, assets=mosaic_assets(mosaic_file_names(m.name), m),
        sha256=published().sha256, properties=mosaic_properties(m),
    )
    assert item_to_bytes(mosaic_item(m, published())) == item_to_bytes(generic)


def test_items_validate_with_their_extensions_offline_and_violations_are_caught() -> None:
    # truth: the extension schemas in rovercam/catalog/schemas (written from each extension's
    # field table); a violation of each extension used must be reported
    d = json.loads(item_to_bytes(mosaic_item(small_mosaic(), published())))
    assert set(d["stac_extensions"]) == {EXTENSIONS[k] for k in ("file", "raster", "processing", "proj", "view",
                                                                 "ssys")}
    validate_stac(d)
    broken = [
        ("file", lambda x: x["assets"]["data"].__setitem__("file:checksum", "not-hex")),
        ("raster", lambda x: x["assets"]["data"]["raster:bands"][0].__setitem__("data_type", "float99")),
        ("processing", lambda x: x["properties"].__setitem__("processing:software", "rovercam")),
        ("projection", lambda x: x["assets"]["data"].__setitem__("proj:shape", [1, 2, 3])),
        ("view", lambda x: x["properties"].__setitem__("view:azimuth", 400.0)),
        ("ssys", lambda x: x["properties"].__setitem__("ssys:targets", [])),
    ]
    for name, breaker in broken:
        doc = json.loads(json.dumps(d))
        breaker(doc)
        with pytest.raises(CatalogError, match=name):
            validate_stac(doc)
    undeclared = dict(d, stac_extensions=[u for u in d["stac_extensions"] if u != EXTENSIONS["file"]])
    with pytest.raises(CatalogError, match="file"):  # fields used without declaring the extension
        validate_stac(undeclared)


@pytest.mark.parametrize(
    ("az_start", "el_top", "width", "height", "expected"),
    [
        # centre pixel ((w-1)/2, (h-1)/2): az = az_start + 19.5 * 0.5, el = el_top - 9.5 * 0.5
        (10.0, 20.0, 40, 20, {"view:azimuth": 19.75}),  # centre above the horizon: no off-nadir
        (350.0, -10.0, 40, 20, {"view:azimuth": 359.75, "view:off_nadir": 75.25}),
        (0.0, 10.0, 720, 20, {}),  # a full circle has no centre azimuth
    ],
)
def test_view_geometry_of_the_mosaic_centre(az_start, el_top, width, height, expected) -> None:
    proj = CylindricalProjection(az_start_deg=az_start, el_top_deg=el_top, scale_deg=0.5, width=width, height=height)
    m = small_mosaic(projection=proj, image=np.full((height, width, 3), 0.03, np.float32))
    p = mosaic_item(m, published()).properties
    assert {k: v for k, v in p.items() if k.startswith("view:")} == pytest.approx(expected)


def test_multihash_of_sha256() -> None:
    # truth: multiformats multihash table, sha2-256 = 0x12, digest length 32 = 0x20
    import hashlib

    digest = hashlib.sha256(b"").hexdigest()
    assert multihash_sha256(digest) == "1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    with pytest.raises(CatalogError):
        multihash_sha256("E3B0")


def test_raster_band_statistics_match_numpy_over_the_finite_values() -> None:
    # truth: numpy over the finite values in float64, the whole band at once; the builder works a
    # chunk of rows at a time and merges (a few ulp apart at most)
    from rovercam.catalog.stac import raster_bands

    rng = np.random.default_rng(0)
    image = rng.normal(5.0, 2.0, (20000, 70, 2)).astype(np.float32)  # two chunks of rows
    image[:10] = np.nan
    image[..., 1] = np.nan
    good, empty = raster_bands(image, unit="DN")
    finite = image[..., 0][np.isfinite(image[..., 0])].astype(np.float64)
    s = good["statistics"]
    assert (s["minimum"], s["maximum"]) == (finite.min(), finite.max())
    np.testing.assert_allclose([s["mean"], s["stddev"]], [finite.mean(), finite.std()], rtol=1e-12, atol=0)
    assert s["valid_percent"] == pytest.approx(100 * 19990 / 20000)
    assert empty == {"data_type": "float32", "nodata": "nan", "scale": 1.0, "offset": 0.0, "unit": "DN",
                     "statistics": {"valid_percent": 0.0}}
