"""Calibrate stage: the whole frame chain (decompand -> debayer -> flat -> color -> undistort) on
one ingested product, fused strip by strip; only the calibrated frame is stored.

``[prefect] chain_tasks = "per-stage"`` runs the five stage tasks instead (tasks/decompand.py ...),
storing every intermediate frame; the results are the same.
"""
from __future__ import annotations

from prefect import task

from rovercam import chain
from rovercam.config import Settings
from rovercam.errors import ProductError
from rovercam.ingest import IngestResult
from rovercam.products import Limits, read_product
from rovercam.provenance import sha256_file

from tasks._cache import key_parameter
from tasks._runtime import store_for
from tasks._stage import FRAME_FILE, FrameRef


def calibrated_prefix(sol: int | None, product_id: str, key: str) -> str:
    """Store prefix of a calibrated frame: ``work/sol<N>/calibrated/<product>/<key[:16]>``."""
    sol_part = f"sol{sol:05d}" if sol is not None else "unknown-sol"
    return f"work/{sol_part}/calibrated/{product_id}/{key[:16]}"


@task(name="calibrate", task_run_name="calibrate-{item.product_id}", cache_key_fn=key_parameter,
      persist_result=True)
def calibrate(item: IngestResult, settings: Settings, key: str) -> FrameRef:
    """Run the chain on ``item`` and store the frame under its cache ``key`` (see module notes)."""
    sha = sha256_file(item.path)
    if sha != item.sha256:
        raise ProductError(item.path, f"file changed since ingest (sha256 {sha[:12]} != {item.sha256[:12]})")
    product = read_product(item.path, limits=Limits(**settings.limits.model_dump()))
    frame = chain.run_chain(chain.frame_from_product(product, sha256=sha, settings=settings), settings)
    with store_for(settings).transaction(calibrated_prefix(item.sol, item.product_id, key), durable=False) as txn:
        txn.put(FRAME_FILE, chain.dumps_frame(frame))
    return FrameRef(item.product_id, txn.keys[FRAME_FILE], "undistort")
