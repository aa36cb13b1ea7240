"""The pipeline's stages, in order, and which of them a request recomputes."""
from __future__ import annotations

from typing import Iterable, Literal

__all__ = ["Stage", "StageChoice", "STAGES", "CHAIN_STAGES", "STAGE_CHOICES", "stages_to_refresh"]

Stage = Literal["ingest", "calibrate", "stereo", "mosaic", "publish"]
#: What a request may name: a pipeline stage, or a chain stage (meaning "calibrate").
StageChoice = Literal["ingest", "calibrate", "stereo", "mosaic", "publish", "decompand", "debayer", "flat", "color",
                      "undistort"]

#: Stages in order; ``reprocess --stages`` names them (chain stage names mean "calibrate").
#: ``stereo`` (3-D products of the sol's stereo pairs, and the terrain of each site and drive)
#: comes before ``mosaic``, whose terrain surface it makes.
STAGES: tuple[Stage, ...] = ("ingest", "calibrate", "stereo", "mosaic", "publish")
#: The frame chain's own stages, all inside "calibrate".
CHAIN_STAGES = ("decompand", "debayer", "flat", "color", "undistort")
#: Every name :func:`stages_to_refresh` accepts, in order (:data:`StageChoice`).
STAGE_CHOICES: tuple[str, ...] = STAGES + CHAIN_STAGES


def stages_to_refresh(stages: Iterable[str] | None, *, force: bool = False) -> set[str]:
    """The stages to recompute: every stage from the earliest one named (or all with ``force``).

    Parameters
    ----------
    stages : iterable of str or None
        Stage names (:data:`STAGES`); a chain stage (``"debayer"``) means ``"calibrate"``.
    force : bool, keyword-only
        Recompute everything.

    Returns
    -------
    set of str

    Raises
    ------
    ValueError
        An unknown stage name (the message lists the known ones).

    Examples
    --------
    >>> sorted(stages_to_refresh(["mosaic"]))
    ['mosaic', 'publish']
    """
    if force:
        return set(STAGES)
    wanted = set()
    for s in stages or ():
        s = "calibrate" if s in CHAIN_STAGES else s
        if s not in STAGES:
            raise ValueError(f"unknown stage {s!r}; stages: {', '.join(STAGES + CHAIN_STAGES)}")
        wanted.add(s)
    if not wanted:
        return set()
    first = min(STAGES.index(s) for s in wanted)  # type: ignore[arg-type]
    return set(STAGES[first:])
