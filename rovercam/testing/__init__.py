"""Shared test helpers: data with known truth, truth measures, test servers, crash trials.

In the spirit of ``numpy.testing`` and ``xarray.testing``: what rovercam's own tests and its
benchmarks both need, shipped with the library so that users can check a deployment the same
way. Importing this package needs numpy only; rovercam's heavier modules and the optional
packages (moto, boto3, s3fs, playwright, colour-demosaicing) are imported by the function that
uses them.

Data makers
    :func:`sample_mosaic` (a mosaic to publish), :func:`pointing_camera` and
    :func:`make_problem` (a synthetic world seen by known cameras), :func:`natural_scene`
    (radiance with natural-image statistics), :func:`make_edl_sol` (a generated descent sol),
    :func:`seed_products` and :func:`synthetic_product` (small products of every kind),
    :func:`publish_stereo_output` and :func:`publish_terrain_output` (published stereo and
    terrain outputs of an analytic scene, :func:`plane_scene`, with :func:`analytic_mesh`).
Truth measures
    :func:`frame_accuracy`, :func:`demosaic_figures`, :func:`truth_image`, :func:`score_levels`,
    :func:`edl_frames` (a descent sol's calibrated frames with seeded label pose errors),
    :func:`true_models` (its true camera models).
Robustness
    :func:`fuzz_readers` (mutated products), :func:`run_kill_trials` (SIGKILL during publish),
    :func:`tree_snapshot` and :func:`outside_writes` (what a run wrote where),
    :func:`kill_trial` (the Prefect server or a sol run killed mid-run, then rerun; with
    :class:`PrefectServer`, a real server that can be killed and restarted),
    :func:`fault_proxy` (S3 answering 500/503 or timing out), :func:`disk_budget` and
    :func:`tmpfs_command` (a disk that fills up), :func:`leftovers` and :func:`publish_until_full`
    (what a failed publish left).
Test servers
    :func:`moto_s3` (an S3 endpoint on 127.0.0.1), :func:`hostile_server` (an HTTP source mixing
    good products with attacks, :data:`HOSTILE_CASES`), :data:`CHROMIUM` and
    :data:`CHROMIUM_ARGS` (headless browser).
"""
from rovercam.testing.browser import CHROMIUM, CHROMIUM_ARGS
from rovercam.testing.crash import KillReport, run_kill_trials
from rovercam.testing.descent import edl_frames, make_edl_sol, score_levels, true_models
from rovercam.testing.disk import (
    CHILD,
    DiskBudget,
    disk_budget,
    leftovers,
    publish_until_full,
    tmpfs_available,
    tmpfs_command,
)
from rovercam.testing.faults import FaultProxy, even_rates, fault_proxy
from rovercam.testing.frame import (
    demosaic_figures,
    frame_accuracy,
    natural_scene,
    synthetic_camera_settings,
    truth_image,
)
from rovercam.testing.fuzz import FuzzReport, fuzz_readers, seed_products, synthetic_product
from rovercam.testing.mosaic import (
    TruthProblem,
    make_problem,
    make_world,
    pointing_camera,
    rotate_about_centre,
    sample_mosaic,
    small_rotation,
)
from rovercam.testing.hostile import CASES as HOSTILE_CASES
from rovercam.testing.hostile import (
    HostileCase,
    HostileServer,
    hostile_server,
    outside_writes,
    tree_snapshot,
)
from rovercam.testing.orchestrator import PrefectServer, TrialOutcome, kill_trial, orphan_outputs, prepare_sol
from rovercam.testing.s3 import moto_s3
from rovercam.testing.stereo import analytic_mesh, plane_scene, publish_stereo_output, publish_terrain_output

__all__ = [
    "sample_mosaic",
    "pointing_camera",
    "make_world",
    "make_problem",
    "TruthProblem",
    "rotate_about_centre",
    "small_rotation",
    "natural_scene",
    "make_edl_sol",
    "edl_frames",
    "score_levels",
    "true_models",
    "seed_products",
    "synthetic_product",
    "frame_accuracy",
    "demosaic_figures",
    "truth_image",
    "synthetic_camera_settings",
    "fuzz_readers",
    "FuzzReport",
    "run_kill_trials",
    "KillReport",
    "PrefectServer",
    "TrialOutcome",
    "kill_trial",
    "orphan_outputs",
    "prepare_sol",
    "moto_s3",
    "hostile_server",
    "HostileServer",
    "HostileCase",
    "HOSTILE_CASES",
    "tree_snapshot",
    "outside_writes",
    "FaultProxy",
    "fault_proxy",
    "even_rates",
    "disk_budget",
    "DiskBudget",
    "tmpfs_command",
    "tmpfs_available",
    "leftovers",
    "publish_until_full",
    "CHILD",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "plane_scene",
    "analytic_mesh",
    "publish_stereo_output",
    "publish_terrain_output",
]
