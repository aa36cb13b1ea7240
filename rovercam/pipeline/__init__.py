"""The pipeline's decisions, without an orchestrator: what to run, what to reuse, and what a run did.

``ingest -> calibrate -> stereo -> mosaic -> publish``, for one sol. The Prefect flows (``flows/``) submit
what a :class:`Planner` says to compute and nothing else; ``rovercam reprocess --dry-run`` prints
the same plan (:func:`plan_reprocess`) without starting Prefect or writing anything.

- :mod:`~rovercam.pipeline.stages`: the stage names and which ones a request recomputes;
- :mod:`~rovercam.pipeline.results`: the typed results that travel between stages;
- :mod:`~rovercam.pipeline.plan`: one :class:`Decision` per unit of work ("reuse <store key>"
  or "compute: <reason>"), the one answer to "why did this recompute?";
- :mod:`~rovercam.pipeline.report`: :class:`SolReport`, what a run did;
- :mod:`~rovercam.pipeline.preview`: the whole plan of a cataloged sol, read-only;
- :mod:`~rovercam.pipeline.calibration`: the calibration folders a sol came with, remembered;
- :mod:`~rovercam.pipeline.pairing`: the stereo pairs of a sol, from metadata;
- :mod:`~rovercam.pipeline.stereo`: the ``stereo`` stage's work (3-D products, meshes, terrain).

This package never imports Prefect (tests/test_architecture.py).
"""
from rovercam.pipeline.calibration import remembered_calibration, with_calibration
from rovercam.pipeline.pairing import Pairing, StereoPair, Unpaired, pair_frames
from rovercam.pipeline.plan import Decision, MosaicPlan, Planner, PreviousRun, previous_run, summarize
from rovercam.pipeline.preview import cataloged_paths, check_cameras, plan_reprocess
from rovercam.pipeline.report import SolReport
from rovercam.pipeline.results import (CalibrateResult, Failure, FrameRef, MosaicRef, MosaicResult, PublishResult,
                                       StereoResult, TerrainRef)
from rovercam.pipeline.stages import CHAIN_STAGES, STAGE_CHOICES, STAGES, StageChoice, stages_to_refresh

__all__ = [
    "STAGES", "CHAIN_STAGES", "STAGE_CHOICES", "StageChoice", "stages_to_refresh",
    "FrameRef", "Failure", "CalibrateResult", "StereoResult", "TerrainRef", "MosaicRef", "MosaicResult",
    "PublishResult",
    "StereoPair", "Unpaired", "Pairing", "pair_frames",
    "Decision", "MosaicPlan", "Planner", "PreviousRun", "previous_run", "summarize",
    "SolReport", "cataloged_paths", "check_cameras", "plan_reprocess", "remembered_calibration", "with_calibration",
]
