"""Calibrate stage: the whole frame chain (decompand -> debayer -> flat -> color -> undistort) on
one ingested product, fused strip by strip; only the calibrated frame is stored.

``[prefect] chain_tasks = "per-stage"`` runs the five stage tasks instead (tasks/decompand.py ...),
storing every intermediate frame; the results are the same.
"""
from __future__ import annotations

import logging

from prefect import task
from prefect.runtime import task_run

from rovercam import layout
from rovercam import chain
from rovercam.config import Settings
from rovercam.ingest import IngestResult

from rovercam_tasks._cache import key_parameter
from rovercam_tasks._runtime import store_for
from rovercam_tasks._stage import FRAME_FILE, FrameRef, frame_from_ingested


log = logging.getLogger(__name__)


def calibrate_one(item: IngestResult, settings: Settings, key: str) -> FrameRef:
    """Run the chain on ``item`` and store the frame under its cache ``key`` (see module notes)."""
    frame = chain.run_chain(frame_from_ingested(item, settings), settings)
    with store_for(settings).transaction(layout.calibrated_prefix(item.sol, item.product_id, key), durable=False) as txn:
        txn.put(FRAME_FILE, chain.frame_pieces(frame))
    return FrameRef(item.product_id, txn.keys[FRAME_FILE], "undistort")


@task(name="calibrate", task_run_name="calibrate-{item.product_id}", cache_key_fn=key_parameter,
      persist_result=True)
def calibrate(item: IngestResult, settings: Settings, key: str) -> FrameRef:
    """The frame chain on one product (:func:`calibrate_one`), cached by ``key``."""
    return calibrate_one(item, settings, key)


def _batch_name() -> str:
    items = task_run.parameters["items"]
    return f"calibrate-{items[0].product_id}+{len(items) - 1}"


@task(name="calibrate-batch", task_run_name=_batch_name, cache_key_fn=key_parameter, persist_result=True)
def calibrate_batch(items: list[IngestResult], settings: Settings, keys: list[str], key: str
                    ) -> list[tuple[str, FrameRef | None, str | None]]:
    """The frame chain on several products in one task (``[prefect] dask_batch``).

    On a Dask cluster each Prefect task costs ~0.13 s of CPU, twice the chain of a Mastcam-Z
    frame; a batch pays it once (``rovercam_flows.stages.dask_batch_size``). A product that fails is returned with its reason
    (``(product_id, None, reason)``) and logged, while the others go on; ``key`` is the digest
    of the members' keys.
    """
    out: list[tuple[str, FrameRef | None, str | None]] = []
    for item, k in zip(items, keys):
        try:
            out.append((item.product_id, calibrate_one(item, settings, k), None))
        except Exception as exc:  # one product's failure is reported, not raised
            log.error("%s: calibration failed: %s", item.product_id, exc)
            out.append((item.product_id, None, str(exc) or type(exc).__name__))
    return out
