"""Stereo pairs within a sol: which left and right frames the ``stereo`` stage matches.

A pure function over the frames' metadata (:class:`~rovercam.products.ProductMeta`, from labels or
calibrated frames' heads): no pixels, no store. Two frames pair when

- their cameras are each other's ``stereo_partner`` in the camera registry (config/cameras/), the
  left eye being the one whose instrument id names ``LEFT``;
- they share the mission, sol, site, drive and sequence id;
- their start times (else their spacecraft clocks) differ by at most ``tolerance_s``;
- they have the same detector subframe and pixel averaging, and the same calibrated size when
  it is known;
- (zoom cameras: Mastcam-Z) the same zoom motor count and focal length, when the labels give them.

Each left frame takes the nearest-in-time right frame that fits, each frame in one pair at most.
Every frame of a stereo camera that finds no partner is listed with the reason (the sol report
shows it); frames of cameras without a stereo partner are not stereo frames and are left out.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from rovercam.products.model import ProductMeta

__all__ = ["StereoPair", "Unpaired", "Pairing", "pair_frames", "FOCAL_LENGTH_TOLERANCE_MM"]

#: Largest focal-length difference (mm) of a zoom pair's labels still taken as the same zoom: the
#: labels' FOCAL_LENGTH is rounded to a tenth of a millimetre (Mars 2020 camera SIS).
FOCAL_LENGTH_TOLERANCE_MM = 0.15


@dataclass(frozen=True, slots=True)
class StereoPair:
    """A left and a right frame of one stereo camera, taken together.

    ``dt_s`` is the right frame's start minus the left's, seconds; ``site`` and ``drive`` the
    rover position both were taken at (their terrain's).
    """

    left: str
    right: str
    left_instrument: str
    right_instrument: str
    dt_s: float
    site: int | None = None
    drive: int | None = None

    @property
    def name(self) -> str:
        """The pair's unit name in plans and reports: the left product id."""
        return self.left


@dataclass(frozen=True, slots=True)
class Unpaired:
    """A frame of a stereo camera that found no partner, and why."""

    product_id: str
    instrument: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"product_id": self.product_id, "instrument": self.instrument, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Pairing:
    """The pairs of a sol (in the order of their left frames' input) and the unpaired frames."""

    pairs: tuple[StereoPair, ...] = ()
    unpaired: tuple[Unpaired, ...] = ()


def _seconds(meta: ProductMeta) -> float | None:
    """The frame's start, seconds (UTC start time, else the spacecraft clock)."""
    if meta.start_time is not None:
        return meta.start_time.timestamp() if meta.start_time.tzinfo else \
            meta.start_time.replace(tzinfo=_dt.timezone.utc).timestamp()
    return meta.sclk


def _is_left(instrument: str, partner: str) -> bool:
    return "LEFT" in instrument.upper() and "LEFT" not in partner.upper()


def _mismatch(left: ProductMeta, right: ProductMeta, shapes: Mapping[str, tuple[int, int]]) -> str | None:
    """Why two frames of partner cameras taken together cannot pair (None: they can)."""
    a, b = shapes.get(left.product_id), shapes.get(right.product_id)
    if a is not None and b is not None and tuple(a) != tuple(b):
        return f"size {a[1]}x{a[0]} != {b[1]}x{b[0]}"
    if (left.subframe, left.downsample) != (right.subframe, right.downsample):
        return "subframe or pixel averaging differs"
    if left.zoom_position is not None and right.zoom_position is not None \
            and left.zoom_position != right.zoom_position:
        return f"zoom {left.zoom_position} != {right.zoom_position}"
    if left.focal_length_mm is not None and right.focal_length_mm is not None \
            and abs(left.focal_length_mm - right.focal_length_mm) > FOCAL_LENGTH_TOLERANCE_MM:
        return f"focal length {left.focal_length_mm:g} mm != {right.focal_length_mm:g} mm"
    return None


def pair_frames(metas: Sequence[ProductMeta], partner_of: Callable[[str, str], str | None], *,
                tolerance_s: float, shapes: Mapping[str, tuple[int, int]] | None = None) -> Pairing:
    """The stereo pairs among a sol's frames (module docstring).

    Parameters
    ----------
    metas : sequence of ProductMeta
        The sol's frames (any cameras, any order; product ids unique).
    partner_of : callable ``(mission, instrument) -> str or None``
        The camera's ``stereo_partner`` in the registry (None: not a stereo camera, or unknown).
    tolerance_s : float, keyword-only
        Largest start-time difference of a pair, seconds (``[stereo_stage] pair_tolerance_s``).
    shapes : mapping of product id -> (H, W), optional, keyword-only
        Calibrated sizes, where known (a calibrated frame's head).

    Returns
    -------
    Pairing
        Pairs in the input order of their left frames; every frame of a stereo camera that is in
        no pair, with its reason.

    Raises
    ------
    ValueError
        A negative tolerance.

    Examples
    --------
    >>> from rovercam.products import ProductMeta
    >>> left = ProductMeta("NLF_1", "M2020", "NAVCAM_LEFT", sol=1, sclk=100.0, sequence_id="NCAM1")
    >>> right = ProductMeta("NRF_1", "M2020", "NAVCAM_RIGHT", sol=1, sclk=100.5, sequence_id="NCAM1")
    >>> partners = {"NAVCAM_LEFT": "NAVCAM_RIGHT", "NAVCAM_RIGHT": "NAVCAM_LEFT"}
    >>> pair_frames([right, left], lambda m, i: partners.get(i), tolerance_s=2.0).pairs[0].right
    'NRF_1'
    """
    if not tolerance_s >= 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s!r}")
    shapes = shapes or {}
    partner = {m.product_id: partner_of(m.mission, m.instrument) for m in metas}
    stereo = [m for m in metas if partner[m.product_id]]
    lefts = [m for m in stereo if _is_left(m.instrument, partner[m.product_id] or "")]
    left_ids = {m.product_id for m in lefts}
    rights = [m for m in stereo if m.product_id not in left_ids]
    used: set[str] = set()
    pairs: list[StereoPair] = []
    why: dict[str, str] = {}
    for left in lefts:
        want = partner[left.product_id]
        t_left = _seconds(left)
        candidates = [r for r in rights if r.instrument == want and r.product_id not in used
                      and (r.mission, r.sol, r.site, r.drive, r.sequence_id)
                      == (left.mission, left.sol, left.site, left.drive, left.sequence_id)]
        if not candidates:
            why[left.product_id] = (f"no {want} frame of sequence {left.sequence_id} at site {left.site} "
                                    f"drive {left.drive}")
            continue
        timed: list[tuple[float, ProductMeta]] = []
        for r in candidates:
            t_right = _seconds(r)
            if t_left is None or t_right is None:
                why[left.product_id] = "no start time or spacecraft clock to match"
                continue
            timed.append((t_right - t_left, r))
        near = sorted((abs(dt), i) for i, (dt, _) in enumerate(timed) if abs(dt) <= tolerance_s)
        if not near:
            if timed:
                nearest = min(abs(dt) for dt, _ in timed)
                why[left.product_id] = (f"no {want} frame within {tolerance_s:g} s "
                                        f"(nearest {nearest:.3g} s; [stereo_stage] pair_tolerance_s)")
            continue
        reasons = []
        for _, i in near:
            dt, right = timed[i]
            reason = _mismatch(left, right, shapes)
            if reason is None:
                pairs.append(StereoPair(left.product_id, right.product_id, left.instrument, right.instrument,
                                        round(dt, 6), left.site, left.drive))
                used.add(right.product_id)
                break
            reasons.append(f"{right.product_id}: {reason}")
        else:
            why[left.product_id] = "; ".join(reasons)
    paired = {p.left for p in pairs} | used
    unpaired = []
    for m in stereo:
        if m.product_id in paired:
            continue
        other = partner[m.product_id] or ""
        if m.product_id in why:
            reason = why[m.product_id]
        elif not _is_left(other, m.instrument):
            reason = f"neither {m.instrument} nor its partner {other} is a left eye (an id naming LEFT)"
        else:
            reason = f"no {other} frame to pair with (sequence {m.sequence_id}, site {m.site}, drive {m.drive})"
        unpaired.append(Unpaired(m.product_id, m.instrument, reason))
    return Pairing(tuple(pairs), tuple(unpaired))

