"""The Dask LocalCluster the flows start, and the set-up of its workers.

A worker is one single-threaded process: OpenCV's own thread pool is switched off so that
``dask_workers`` processes use that many cores, no more (throughput then scales with workers).

Dask's nanny starts each worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (its
``distributed.nanny.pre-spawn-environ``). Setting any malloc tunable turns off glibc's dynamic
mmap threshold (mallopt(3)), so every array over 128 KiB becomes a fresh ``mmap``: the kernel
page-faults and zeroes it on first touch and unmaps it on free. The frame chain allocates a few
frame-sized arrays per product, and under that setting it ran 4x slower in a plain process
(3.88 against 15.63 frames/s on warm Mastcam-Z frames, 22.3 of its 30.9 CPU seconds in the
kernel against 2.2 of 9.0). :func:`local_cluster` leaves the variable unset, so workers allocate
like any Python process.
"""
from __future__ import annotations

from typing import Any

#: The Dask configuration :func:`local_cluster` starts its workers under.
NANNY_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(**kwargs: Any) -> Any:
    """A ``distributed.LocalCluster(**kwargs)`` whose workers keep glibc's default allocator
    behaviour (module notes); the ``cluster_class`` of the flows' Dask task runner."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(NANNY_CONFIG):  # read by each Nanny as it is created
        return LocalCluster(**kwargs)


def dask_setup(worker: object) -> None:  # the hook name Dask looks for in a preload module
    import cv2

    cv2.setNumThreads(1)
