"""Catalog writers racing on one row: recording the same output version at once (one run
published it while another reused it) leaves one row, and neither writer fails.

Truth: the rows in the catalog after writers released together by a barrier.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rovercam.catalog import Catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_the_same_output_recorded_at_once_gives_one_row_and_no_error(url: str) -> None:
    with Catalog(url) as cat:
        errors: list[BaseException] = []
        for version in range(1, 11):
            barrier = threading.Barrier(4)

            def record(version: int = version, barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                try:
                    cat.record_output(name="NCAM_CYL", kind="mosaic", sol=100, version=version,
                                      storage_keys={"a.tif": f"sol00100/mosaics/NCAM_CYL/v{version}/a.tif"},
                                      lineage={"NLF_0100_A": "ab" * 32})
                except BaseException as e:  # noqa: BLE001 - collected for the assertion
                    errors.append(e)

            threads = [threading.Thread(target=record) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        outputs = cat.outputs(sol=100)
        assert [o.version for o in outputs] == list(range(1, 11))
        assert all(len(cat.lineage(o.output_id)) == 1 for o in outputs)
