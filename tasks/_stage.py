"""Shared body of the frame-chain stage tasks: load a frame, run one stage, store the result."""
from __future__ import annotations

from rovercam import layout
from rovercam import chain
from rovercam.config import Settings
from rovercam.errors import ProductError
from rovercam.ingest import IngestResult
from rovercam.pipeline.plan import FRAME_FILE, stored_bands
from rovercam.pipeline.results import FrameRef
from rovercam.products import Limits, read_product
from rovercam.provenance import sha256_file

from rovercam_tasks._runtime import store_for

__all__ = ["FRAME_FILE", "FrameRef", "save_frame", "frame_from_ingested", "load_frame", "frame_bands", "run_stage"]


def save_frame(frame: chain.Frame, stage: str, settings: Settings) -> FrameRef:
    """Write ``frame`` under the work area; returns its reference."""
    prefix = layout.stage_prefix(frame.sol, stage, frame.product_id)
    with store_for(settings).transaction(prefix, durable=False) as txn:
        txn.put(FRAME_FILE, chain.frame_pieces(frame))
    return FrameRef(frame.product_id, txn.keys[FRAME_FILE], stage)


def frame_from_ingested(item: IngestResult, settings: Settings) -> chain.Frame:
    """Read an ingested product into a chain Frame, refusing it if the file changed since ingest."""
    sha = sha256_file(item.path)
    if sha != item.sha256:
        raise ProductError(item.path, f"file changed since ingest (sha256 {sha[:12]} != {item.sha256[:12]})")
    product = read_product(item.path, limits=Limits(**settings.limits.model_dump()))
    return chain.frame_from_product(product, sha256=sha, settings=settings)


def load_frame(ref: FrameRef, settings: Settings) -> chain.Frame:
    """The frame ``ref`` points to (errors name its store key)."""
    return chain.loads_frame(store_for(settings).read_bytes(ref.key), source=ref.key)


def frame_bands(ref: FrameRef, settings: Settings) -> int:
    """Band count of the stored frame ``ref`` (1 for an (H, W) image), from the blob's head only."""
    return stored_bands(store_for(settings), ref.key)


def run_stage(stage: str, ref: FrameRef, settings: Settings) -> FrameRef:
    """Load the frame ``ref`` points to, run ``stage`` on it, store and return the new ref."""
    return save_frame(chain.run_stage(stage, load_frame(ref, settings), settings), stage, settings)
