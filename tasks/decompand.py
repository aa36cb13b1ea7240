"""Decompand stage: read an ingested product and undo onboard companding (starts the frame chain)."""
from __future__ import annotations

from prefect import task

from rovercam import chain
from rovercam.config import Settings
from rovercam.errors import ProductError
from rovercam.ingest import IngestResult
from rovercam.products import Limits, read_product
from rovercam.provenance import sha256_file

from tasks._stage import FrameRef, save_frame


@task(name="decompand", task_run_name="decompand-{item.product_id}")
def decompand(item: IngestResult, settings: Settings) -> FrameRef:
    """Start the chain from the product file, refusing it if it changed since ingest."""
    sha = sha256_file(item.path)
    if sha != item.sha256:
        raise ProductError(item.path, f"file changed since ingest (sha256 {sha[:12]} != {item.sha256[:12]})")
    product = read_product(item.path, limits=Limits(**settings.limits.model_dump()))
    frame = chain.frame_from_product(product, sha256=sha, settings=settings)
    return save_frame(chain.decompand(frame, settings), "decompand", settings)
