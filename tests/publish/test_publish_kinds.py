"""Every output kind goes through the one publish path: the same core fields on each.

One output of each kind (mosaic, cube, sequence, EDL orthomosaic, contact sheet, event) is
published into one store and catalog; each must then agree on what the core records.

Truth: the provenance and times given to the publishers, the sha256 of the bytes actually
stored, :mod:`rovercam.layout` for ids and keys, and the STAC 1.1 schemas shipped with pystac.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from rovercam import layout
from rovercam.catalog import Catalog
from rovercam.catalog.export import validate_stac
from rovercam.catalog.stac import EXTENSIONS, PLATFORMS, AssetSpec, provenance_properties
from rovercam.edl.events import Event
from rovercam.edl.ortho import local_crs
from rovercam.errors import CatalogError, RovercamError
from rovercam.mosaic.model import CylindricalProjection, Mosaic
from rovercam.provenance import CalibrationLevel, Provenance
from rovercam.publish import (
    OutputFile,
    audit_published,
    publish_contact_sheet,
    publish_cube,
    publish_event,
    publish_mosaic,
    publish_ortho,
    publish_output,
    publish_sequence,
)
from rovercam.storage import Store

UTC = dt.timezone.utc
FILE_EXT, PROCESSING_EXT = EXTENSIONS["file"], EXTENSIONS["processing"]
RASTER_EXT, PROJ_EXT = EXTENSIONS["raster"], EXTENSIONS["proj"]
START = dt.datetime(2021, 5, 30, 10, 0, tzinfo=UTC)
STOP = dt.datetime(2021, 5, 30, 10, 4, tzinfo=UTC)
LEVEL = CalibrationLevel(2, "DN s-1", ("absolute responsivity",))
PROV = Provenance(
    inputs={"NLF_0100_0673000000_A": "a" * 64, "NLF_0100_0673000010_A": "b" * 64},
    calibration={"M20_NCAM_FLAT.IMG": "f" * 64},
    steps=["decompand: M20_LUT2"],
    software_version="0.1.0",
    config_hash="c" * 64,
    level=LEVEL,
)
#: What the event publisher records: only the frame that shows the event, no calibration.
EVENT = Event("touchdown", "LCAM", "NLF_0100_0673000010_A", START.timestamp(), 0.9, "Touchdown")
EVENT_PROV = Provenance(inputs={EVENT.product_id: "b" * 64}, software_version="0.1.0", config_hash="c" * 64,
                        steps=["event: touchdown"])


def mosaic() -> Mosaic:
    image = np.full((20, 40, 3), 0.03, np.float32)
    image[:4] = np.nan
    return Mosaic(name="NCAM_CYL", sol=100, instrument="NAVCAM_LEFT", image=image,
                  projection=CylindricalProjection(az_start_deg=0.0, el_top_deg=10.0, scale_deg=0.5,
                                                   width=40, height=20),
                  provenance=PROV, start_time=START, stop_time=STOP, display_white_radiance=0.06)


def cube() -> xr.Dataset:
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    return xr.Dataset({"data": (("band", "y", "x"), data)},
                      coords={"band": ["L1", "L2"], "wavelength_nm": ("band", [527.0, 605.0])})


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """kind -> (PublishedMosaic or PublishedProduct, provenance given); plus store and catalog."""
    tmp = tmp_path_factory.mktemp("kinds")
    store = Store(str(tmp / "store"))
    frames = [np.full((32, 48, 3), 30 * i, np.uint8) for i in range(3)]
    image = np.random.default_rng(0).random((16, 20, 3)).astype(np.float32)
    common = dict(store=store, provenance=PROV, start_time=START, stop_time=STOP)
    with Catalog(tmp / "catalog.db") as catalog:
        run_id = catalog.start_run("kinds", sol=100)
        out = {
            "mosaic": (publish_mosaic(mosaic(), store=store, catalog=catalog, run_id=run_id), PROV),
            "cube": (publish_cube(cube(), name="ZCAM_CUBE", sol=100, instrument="MCZ_LEFT", catalog=catalog,
                                  run_id=run_id, **common), PROV),
            "sequence": (publish_sequence(frames, name="NCAM_DRIVE", sol=100, instrument="NAVCAM_LEFT", fps=2.0,
                                          catalog=catalog, run_id=run_id, **common), PROV),
            "ortho": (publish_ortho([(image, Affine(2.0, 0, -20.0, 0, -2.0, 16.0))], name="LCAM_orthomosaic",
                                    sol=100, instrument="LCAM", crs=local_crs(), catalog=catalog,
                                    run_id=run_id, track_geojson='{"type": "FeatureCollection", "features": []}',
                                    **common), PROV),
            "contact-sheet": (publish_contact_sheet(frames[0], name="PUCAM1_contact_sheet", sol=100,
                                                    instrument="PUCAM1", frames=3, catalog=catalog,
                                                    run_id=run_id, **common), PROV),
            "event": (publish_event(EVENT, sol=100, store=store, catalog=catalog, provenance=PROV,
                                    run_id=run_id), EVENT_PROV),
        }
        yield out, store, catalog


KINDS = ["mosaic", "cube", "sequence", "ortho", "contact-sheet", "event"]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_records_the_same_core_fields(published, kind: str) -> None:
    out, store, catalog = published
    pub, prov = out[kind]
    [row] = [r for r in catalog.outputs(kind=kind)]
    item_key = row.stac_key
    item_path = store.local_path(item_key)
    item = json.loads(item_path.read_bytes())
    validate_stac(item)

    # id scheme: one id for item and row, from the layout; the version folder under the kind's prefix
    assert pub.output_id == row.output_id == item["id"] == layout.output_id("M2020", 100, row.name, pub.version)
    prefix = layout.published_prefix(100, kind, row.name)
    assert item_key == f"{prefix}/v{pub.version}/{row.name}.stac.json"
    assert item["properties"]["rovercam:version"] == row.version == pub.version == 1

    # the common properties and the provenance given
    props = item["properties"]
    assert props["rovercam:provenance"] == json.loads(json.dumps(provenance_properties(prov)))
    assert (props["rovercam:sol"], props["rovercam:name"], props["rovercam:instrument"]) == (
        100, row.name, row.instrument)
    assert props["instruments"] == [row.instrument.lower()]
    assert (props["mission"], props["platform"]) == ("M2020", PLATFORMS["M2020"])
    event = kind == "event"
    assert props["start_datetime"] == "2021-05-30T10:00:00Z"
    assert props["end_datetime"] == ("2021-05-30T10:00:00Z" if event else "2021-05-30T10:04:00Z")
    assert (row.start_time, row.end_time) == (START, START if event else STOP)

    # checksums: every stored file is an asset (or the item), with the sha256 of its bytes as a
    # multihash (0x12 sha2-256, 0x20 bytes) and its size (file extension)
    folder = item_path.parent
    stored = {p.name: sha(p) for p in folder.iterdir()}
    assets = {Path(a["href"]).name: a["file:checksum"] for a in item["assets"].values()}
    assert set(assets) | {item_path.name} == set(stored)
    assert all("1220" + stored[name] == digest for name, digest in assets.items())
    assert all(a["file:size"] == (folder / Path(a["href"]).name).stat().st_size for a in item["assets"].values())
    assert FILE_EXT in item["stac_extensions"] and PROCESSING_EXT in item["stac_extensions"]
    assert (props["processing:software"], props["processing:level"]) == ({"rovercam": "0.1.0"}, "Derived")
    assert props["processing:lineage"] == "; ".join(prov.steps)
    assert props["ssys:targets"] == ["Mars"] and item["geometry"] is None and "bbox" not in item
    assert row.checksums == stored
    assert row.storage_keys == {name: f"{prefix}/v{pub.version}/{name}" for name in stored}

    # lineage, calibration level and units come from the provenance, for every kind
    assert {r.product_id: r.product_sha256 for r in catalog.lineage(row.output_id)} == prov.inputs
    level = prov.level
    assert (row.calibration_level, row.units) == ((level.level, level.units) if level else (None, None))


def test_kind_specific_properties(published) -> None:
    out, store, _ = published
    items = {k: json.loads(store.read_bytes(out[k][0].published.keys[f"{n}.stac.json"]))
             for k, n in [("mosaic", "NCAM_CYL"), ("cube", "ZCAM_CUBE"), ("event", "LCAM_touchdown")]}
    mosaic_props = items["mosaic"]["properties"]
    # mosaic items state the level in the item too (units in raster:bands), and predate rovercam:kind
    assert mosaic_props["rovercam:calibration_level"] == 2
    assert "rovercam:kind" not in mosaic_props and "rovercam:units" not in mosaic_props
    data = items["mosaic"]["assets"]["data"]
    assert {RASTER_EXT, PROJ_EXT} <= set(items["mosaic"]["stac_extensions"])
    # truth: mosaic() is 0.03 everywhere except its 4 NaN rows of 20, and a 0.5-degree grid
    # from azimuth 0, elevation 10 (pixel centres): edges half a pixel out
    for band in data["raster:bands"]:
        assert (band["data_type"], band["nodata"], band["unit"]) == ("float32", "nan", "DN s-1")
        assert band["statistics"]["valid_percent"] == pytest.approx(80.0)
        assert band["statistics"]["minimum"] == band["statistics"]["maximum"] == pytest.approx(0.03, rel=1e-6)
    assert len(data["raster:bands"]) == 3
    assert data["proj:code"] is None and data["proj:shape"] == [20, 40]
    assert data["proj:transform"] == [0.5, 0.0, -0.25, 0.0, -0.5, 10.25]
    # view: centre pixel (19.5, 9.5) looks at azimuth 9.75, elevation 5.25 (above the horizon:
    # no off-nadir angle in 0..90)
    assert mosaic_props["view:azimuth"] == pytest.approx(9.75) and "view:off_nadir" not in mosaic_props
    assert items["cube"]["properties"]["rovercam:kind"] == "cube"
    assert items["cube"]["properties"]["rovercam:bands"] == ["L1", "L2"]
    assert items["event"]["properties"]["rovercam:event"]["kind"] == "touchdown"


def test_store_and_catalog_audit_clean(published) -> None:
    _, store, catalog = published
    assert audit_published(store, catalog, uncommitted="check") == []
    assert sorted(r.kind for r in catalog.outputs()) == sorted(KINDS)


def output(store: Store, catalog: Catalog, files, **kw):
    args = dict(kind="note", name="NOTE", sol=100, instrument="NAVCAM_LEFT", provenance=PROV,
                start_time=START, store=store, catalog=catalog)
    args.update(kw)
    return publish_output(files, **args)


def note(name: str = "NOTE.txt", body: bytes = b"hello\n") -> OutputFile:
    return OutputFile(AssetSpec(name, ("data",), "text/plain", "A note"), body)


def test_publish_output_reuses_identical_content_and_versions_changes(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "catalog.db") as catalog:
        first = output(store, catalog, {"data": note()})
        again = output(store, catalog, {"data": note()})
        changed = output(store, catalog, {"data": note(body=b"changed\n")})
        # a tuple of pieces is stored (and hashed) as the pieces one after another
        pieces = output(store, catalog, {"data": note(body=(b"chan", b"ged\n"))})
    assert (first.version, again.version, changed.version, pieces.version) == (1, 1, 2, 2)
    assert (again.reused, changed.reused, pieces.reused) == (True, False, True)
    assert first.keys == {"data": "sol00100/notes/NOTE/v1/NOTE.txt", "item": "sol00100/notes/NOTE/v1/NOTE.stac.json"}


@pytest.mark.parametrize(
    ("files", "kw", "error", "match"),
    [
        ({}, {}, RovercamError, "nothing to publish"),
        ({"data": note()}, {"name": "../x"}, RovercamError, "plain file name"),
        ({"data": note()}, {"kind": "two words"}, RovercamError, "plain word"),
        ({"a": note(), "b": note()}, {}, RovercamError, "clash"),
        ({"data": note("NOTE.stac.json")}, {}, RovercamError, "clash"),
        ({"data": note()}, {"start_time": None}, CatalogError, "start_time"),
        ({"data": note()}, {"stop_time": START - dt.timedelta(seconds=1)}, CatalogError, "before"),
    ],
    ids=["no-file", "name", "kind", "same-file-twice", "item-name", "no-start", "stop-before-start"],
)
def test_publish_output_refuses_bad_input_before_writing(tmp_path: Path, files, kw, error, match) -> None:
    store = Store(str(tmp_path / "store"))
    with Catalog(tmp_path / "catalog.db") as catalog:
        with pytest.raises(error, match=match):
            output(store, catalog, files, **kw)
        assert catalog.outputs() == []
    assert store.published_prefixes() == []


def test_mosaic_level_is_unknown_without_a_level(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "store"))
    m = dataclasses.replace(mosaic(), provenance=dataclasses.replace(PROV, level=None))
    with Catalog(tmp_path / "catalog.db") as catalog:
        pub = publish_mosaic(m, store=store, catalog=catalog)
        [row] = catalog.outputs()
    item = json.loads(pub.stac_path.read_bytes())
    assert (row.calibration_level, row.units) == (None, None)
    assert item["properties"]["rovercam:calibration_level"] is None
    assert all("unit" not in b for b in item["assets"]["data"]["raster:bands"])


def test_exported_catalog_is_self_contained_and_valid_after_a_move(published, tmp_path: Path, monkeypatch) -> None:
    """Export every kind, move the folder, open it with pystac: each asset resolves inside the
    moved folder to a file with the recorded checksum and size; raster:bands agree with the
    COG itself; pystac's own validator passes with only local schemas (no network)."""
    import shutil
    import urllib.request

    import pystac
    import rasterio
    from pystac.extensions.file import FileExtension
    from pystac.extensions.raster import RasterExtension
    from pystac.validation import JsonSchemaSTACValidator, set_validator

    from rovercam.catalog.export import export_stac, extension_schemas

    _, store, catalog = published
    result = export_stac(catalog, store, tmp_path / "export")
    assert result["items"] == len(KINDS)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    shutil.move(str(tmp_path / "export"), str(moved))
    assert not (tmp_path / "export").exists()

    def offline(*args, **kwargs):
        raise AssertionError(f"network access during validation: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    root = pystac.Catalog.from_file(str(moved / "catalog.json"))
    validator = JsonSchemaSTACValidator()
    validator.schema_cache.update(extension_schemas())  # the core schemas are pystac's own
    set_validator(validator)
    try:
        root.validate_all()  # catalog, collections and items, each with its declared extensions
        # not vacuous: a checksum that is not a hex multihash fails the file extension's schema
        bad = next(root.get_items(recursive=True)).clone()
        next(iter(bad.assets.values())).extra_fields["file:checksum"] = "sha256:xyz"
        with pytest.raises(pystac.errors.STACValidationError, match="file"):
            bad.validate()
    finally:
        set_validator(JsonSchemaSTACValidator())

    items = list(root.get_items(recursive=True))
    assert len(items) == len(KINDS)
    for item in items:
        assert item.geometry is None and item.properties["ssys:targets"] == ["Mars"]
        assert item.properties["processing:datetime"]  # when the catalog recorded the output
        for key, asset in item.assets.items():
            assert not Path(asset.href).is_absolute() and "://" not in asset.href
            path = Path(asset.get_absolute_href()).resolve()
            assert path.is_relative_to(moved.resolve()) and path.is_file(), (item.id, key)
            f = FileExtension.ext(asset)
            assert f.checksum == "1220" + sha(path) and f.size == path.stat().st_size
            if asset.media_type and "geotiff" in asset.media_type:
                bands = RasterExtension.ext(asset).bands
                with rasterio.open(path) as src:
                    data = src.read().astype(np.float64)
                    assert [b.to_dict()["data_type"] for b in bands] == list(src.dtypes)
                for b, values in zip(bands, data):
                    stats = b.statistics
                    assert stats.minimum == pytest.approx(np.nanmin(values), rel=1e-6)  # float32 in the file
                    assert stats.maximum == pytest.approx(np.nanmax(values), rel=1e-6)
    for col in root.get_all_collections():
        assert col.extra_fields["ssys:targets"] == ["Mars"]
    ortho = next(i for i in items if i.id.endswith("LCAM_orthomosaic-v1"))
    assert ortho.properties["proj:wkt2"].startswith("PROJCRS") and ortho.properties["proj:code"] is None
    assert ortho.assets["level0"].extra_fields["proj:transform"] == [2.0, 0.0, -20.0, 0.0, -2.0, 16.0]
