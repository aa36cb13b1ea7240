"""Preloaded by every Dask worker the flows start (``preload=["tasks._dask_worker"]``).

A worker is one single-threaded process: OpenCV's own thread pool is switched off so that
``dask_workers`` processes use that many cores, no more (throughput then scales with workers).
"""
from __future__ import annotations


def dask_setup(worker: object) -> None:  # the hook name Dask looks for
    import cv2

    cv2.setNumThreads(1)
