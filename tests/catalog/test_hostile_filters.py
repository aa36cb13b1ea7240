"""Catalog searches against hostile filter values: SQL metacharacters, classic injection strings,
LIKE wildcards, out-of-range and huge numbers, very long values, control characters.

Truth: what was published (sample mosaics with known sols and cameras); a hostile value either
matches exactly the rows a literal comparison would (usually none) or is refused with
ParameterError, and the catalog is unchanged afterwards.
"""
from __future__ import annotations

import pytest

from rovercam.catalog import Catalog
from rovercam.catalog.query import search_outputs, search_products
from rovercam.errors import ParameterError
from rovercam.publish import publish_mosaic
from rovercam.storage import Store
from rovercam.testing import sample_mosaic

#: Values that must match nothing: no instrument, kind or mission is spelt like this.
INJECTIONS = [
    "' OR '1'='1", "' OR 1=1 --", "NAVCAM' --", "\" OR \"\"=\"", "'; DROP TABLE outputs; --",
    "NAVCAM_LEFT' UNION SELECT * FROM products --", "%", "_", "%%", "NAVCAM%", "NAV%", "NAVCAM_LEF_",
    "N_VCAM", "\\", "\\%", "[NAVCAM]", "*", "NAVCAM*", "..", "../../etc/passwd", "NAVCAM\u2019", "x" * 255,
]


def _publish(root):
    store = Store(str(root))
    cat = Catalog(root / "catalog.sqlite")
    run_id = cat.start_run("process-sol", sol=100, software_version="0.1.0", config_hash="c" * 64)
    first = sample_mosaic(0, width=120, height=60)
    for pid, sha in first.provenance.inputs.items():
        cat.record_product(pid, sha, sol=100, instrument="NAVCAM_LEFT", start_time=first.start_time,
                           path=f"/drop/{pid}.IMG")
    for m in (first, sample_mosaic(2, instrument="NAVCAM_RIGHT", width=120, height=60),
              sample_mosaic(3, sol=200, instrument="MCZ_LEFT", width=120, height=60)):
        publish_mosaic(m, store=store, catalog=cat, run_id=run_id)
    return cat


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    cat = _publish(tmp_path_factory.mktemp("hostile-filters"))
    yield cat
    cat.close()


@pytest.mark.parametrize("value", INJECTIONS)
def test_hostile_text_filters_match_nothing(catalog, value):
    before = [r.output_id for r in search_outputs(catalog)]
    assert search_outputs(catalog, camera=value) == []
    assert search_outputs(catalog, kind=value) == []
    assert search_outputs(catalog, mission=value) == []
    assert search_products(catalog, camera=value) == []
    assert [r.output_id for r in search_outputs(catalog)] == before  # nothing dropped or changed


def test_like_wildcards_are_literal_but_prefixes_still_work(catalog):
    assert {r.instrument for r in search_outputs(catalog, camera="navcam")} == {"NAVCAM_LEFT", "NAVCAM_RIGHT"}
    assert [r.instrument for r in search_outputs(catalog, camera="MCZ")] == ["MCZ_LEFT"]
    assert search_outputs(catalog, camera="NAVCAM_%") == []
    assert search_outputs(catalog, camera="%_LEFT") == []


@pytest.mark.parametrize("kwargs", [
    {"sol": -1}, {"sol": 10**12}, {"sol": 100_000}, {"sols": (0, 10**30)}, {"sols": (5, 1)},
    {"sols": (-5, 1)}, {"sol": 1.5}, {"sol": "100"}, {"camera": "A" * 256}, {"camera": "NAV\x00CAM"},
    {"kind": "mosaic\n"}, {"mission": "M2020\x00' OR 1=1"},
])
def test_out_of_range_or_malformed_filters_are_refused(catalog, kwargs):
    with pytest.raises(ParameterError):
        search_outputs(catalog, **kwargs)


def test_runs_limit_is_bounded(catalog):
    assert len(catalog.runs(limit=1)) == 1
    for bad in (0, -1, 2**63, True):
        with pytest.raises(ParameterError, match="limit"):
            catalog.runs(limit=bad)


def test_hostile_filters_on_postgresql(postgres_url, tmp_path):
    """The same values on PostgreSQL, which refuses 64-bit integers and NUL bytes by itself."""
    store = Store(str(tmp_path))
    with Catalog(postgres_url) as cat:
        run_id = cat.start_run("process-sol", sol=100, software_version="0.1.0", config_hash="c" * 64)
        publish_mosaic(sample_mosaic(0, width=120, height=60), store=store, catalog=cat, run_id=run_id)
        for value in INJECTIONS:
            assert search_outputs(cat, camera=value) == [] and search_outputs(cat, kind=value) == []
        for kwargs in ({"sol": 10**12}, {"camera": "NAV\x00"}, {"sols": (0, 2**40)}):
            with pytest.raises(ParameterError):
                search_outputs(cat, **kwargs)
        assert len(search_outputs(cat, camera="navcam")) == 1
