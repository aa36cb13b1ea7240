"""What travels between the stages: small frozen records (store keys, never pixels)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["FrameRef", "Failure", "CalibrateResult", "TerrainRef", "StereoResult", "MosaicRef", "MosaicResult",
           "PublishResult"]


@dataclass(frozen=True, slots=True)
class FrameRef:
    """A frame in the store after a stage (what crosses task boundaries).

    ``key`` is the store key of the frame's blob; ``stage`` the chain stage it came out of
    (``"undistort"`` for a calibrated frame).
    """

    product_id: str
    key: str
    stage: str


@dataclass(frozen=True, slots=True)
class Failure:
    """A unit of work that failed (a product at calibrate, a mosaic at mosaic or publish)."""

    product_id: str
    stage: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """``{"product_id", "stage", "reason"}``, as sol reports list failures."""
        return {"product_id": self.product_id, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class CalibrateResult:
    """The calibrate stage's outcome.

    ``frames`` in the order of the stage's input, failed products left out; ``keys`` maps each
    frame's product id to its calibrate key (:func:`rovercam.cachekey.calibrate_key`), which
    mosaic keys are made of. ``compute_s`` is the wall time from the first submission on.
    """

    frames: tuple[FrameRef, ...] = ()
    keys: Mapping[str, str] = field(default_factory=dict)
    failed: tuple[Failure, ...] = ()
    reused: int = 0
    computed: int = 0
    compute_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TerrainRef:
    """A site and drive's published terrain, as ``[mosaic] surface = "terrain"`` mosaics take it.

    ``name`` is its :func:`rovercam.layout.terrain_name`; ``key`` its cache key
    (:func:`rovercam.cachekey.terrain_key`: the DEM's identity in mosaic keys); ``dem`` the store
    key of its published ``dem.tif``.
    """

    name: str
    key: str
    dem: str


@dataclass(frozen=True)
class StereoResult:
    """The stereo stage's outcome.

    ``pairs`` and ``terrain``: what each published pair and site/drive terrain wrote
    (:func:`rovercam.pipeline.stereo.stereo_pair`, :func:`~rovercam.pipeline.stereo.site_terrain`
    records); ``unpaired``: frames of stereo cameras without a partner, with the reason
    (:class:`rovercam.pipeline.pairing.Unpaired` as dicts); ``reused``: pairs and terrains taken
    from earlier runs; ``dems``: each published terrain's DEM, for terrain-surface mosaics.
    """

    pairs: tuple[dict[str, Any], ...] = ()
    terrain: tuple[dict[str, Any], ...] = ()
    unpaired: tuple[dict[str, str], ...] = ()
    failed: tuple[Failure, ...] = ()
    reused: int = 0
    dems: tuple[TerrainRef, ...] = ()


@dataclass(frozen=True, slots=True)
class MosaicRef:
    """A built mosaic waiting to be published: its name, the store key of its file, its cache key."""

    name: str
    stored: str
    key: str


@dataclass(frozen=True)
class MosaicResult:
    """The mosaic stage's outcome: the mosaics (reused and built), failures, how many reused."""

    mosaics: tuple[MosaicRef, ...] = ()
    failed: tuple[Failure, ...] = ()
    reused: int = 0


@dataclass(frozen=True)
class PublishResult:
    """The publish stage's outcome: what each published mosaic wrote (in mosaic order), failures."""

    published: tuple[dict[str, Any], ...] = ()
    failed: tuple[Failure, ...] = ()

    @property
    def reused(self) -> int:
        """Mosaics whose identical latest version was kept (no new version written)."""
        return sum(1 for p in self.published if p.get("reused"))
