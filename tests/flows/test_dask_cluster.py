"""The Dask LocalCluster the flows start: how work is batched and how its workers allocate."""
from __future__ import annotations

import os

import pytest

from rovercam.config import load


def _settings(**prefect):
    return load(environ={}, overrides={"prefect": {"task_runner": "dask", **prefect}})


@pytest.mark.parametrize(("products", "workers", "expected"), [
    (102, 1, 26), (102, 2, 13), (102, 8, 4), (16, 2, 2), (3, 2, 1), (1, 4, 1), (0, 2, 1),
])
def test_auto_batch_makes_about_four_tasks_per_worker(products, workers, expected):
    from rovercam_flows.stages import dask_batch_size

    size = dask_batch_size(products, _settings(dask_workers=workers))
    assert size == expected
    if products:  # every product is in a batch, and there are at most 4 batches per worker
        assert -(-products // size) <= 4 * workers


def test_a_fixed_batch_size_is_kept():
    from rovercam_flows.stages import dask_batch_size

    assert dask_batch_size(102, _settings(dask_workers=2, dask_batch=5)) == 5


@pytest.mark.slow
def test_local_cluster_workers_keep_the_default_allocator():
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in each worker (and, as it spawns, in this process);
    :func:`rovercam_tasks._dask_worker.local_cluster` must not, a plain LocalCluster does (the control)."""
    pytest.importorskip("distributed", reason="pip install 'rovercam[dask]'")
    from distributed import Client, LocalCluster

    from rovercam_tasks._dask_worker import local_cluster

    def trim_threshold() -> str | None:
        return os.environ.get("MALLOC_TRIM_THRESHOLD_")

    saved = os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    kw = dict(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with local_cluster(**kw) as cluster, Client(cluster) as client:
            assert list(client.run(trim_threshold).values()) == [None]
        with LocalCluster(**kw) as cluster, Client(cluster) as client:
            assert list(client.run(trim_threshold).values()) == ["65536"]
    finally:
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)  # the control's nanny set it here
        if saved is not None:
            os.environ["MALLOC_TRIM_THRESHOLD_"] = saved
