"""EDL stage: one task per camera sequence, a down-look descent (orthomosaic, track, touchdown)
or an up-look / rover-view sequence (video, contact sheet, events). Each loads its calibrated
frames from the store and makes one rovercam.edl call, which publishes its outputs."""
from __future__ import annotations

from pathlib import Path

from prefect import task

from rovercam.config import Settings
from rovercam.edl.ground import load_dem, touchdown_plane
from rovercam.publish.edl import descent_products, sequence_products

from rovercam_tasks._runtime import catalog_for, store_for
from rovercam_tasks._stage import FrameRef, load_frame
from rovercam_tasks.retry import retry_policy


def find_dem(input_dir: str) -> str | None:
    """A ``dem.json`` given with the products: ``<input_dir>/dem/`` or ``<input_dir>/../dem/``."""
    for cand in (Path(input_dir) / "dem" / "dem.json", Path(input_dir).parent / "dem" / "dem.json"):
        if cand.is_file():
            return str(cand)
    return None


@task(name="edl-descent", task_run_name="edl-descent-{instrument}", **retry_policy(1, 10))
def edl_descent(instrument: str, refs: list[FrameRef], settings: Settings, sol: int, run_id: str | None = None,
                dem_path: str | None = None) -> dict:
    """Orthomosaic (COG levels), track (GeoJSON) and touchdown event of one down-look camera."""
    frames = [load_frame(r, settings) for r in refs]
    surface = load_dem(dem_path) if dem_path else touchdown_plane([f.camera_model for f in frames])
    return descent_products(frames, surface, sol=sol, store=store_for(settings), catalog=catalog_for(settings),
                            run_id=run_id)


@task(name="edl-sequence", task_run_name="edl-sequence-{instrument}", **retry_policy(1, 10))
def edl_sequence(instrument: str, refs: list[FrameRef], settings: Settings, sol: int,
                 run_id: str | None = None) -> dict:
    """Stabilized MP4, contact sheet and events of one up-look / rover-view camera."""
    frames = [load_frame(r, settings) for r in refs]
    return sequence_products(frames, sol=sol, store=store_for(settings), catalog=catalog_for(settings),
                             run_id=run_id)
