"""What to run and what to reuse: one :class:`Decision` per unit of work, with its reason.

The :class:`Planner` is the one answer to "why did this recompute?". Given a sol's products
(paths and content digests), the settings, the stages asked to be recomputed and the store, it
says for the sol record, each product's ingest and calibration, each mosaic and each publish
either ``reuse <store key>`` or ``compute: <reason>``:

- ``refresh asked for this stage``: ``reprocess --stages``/``--force`` (or ``build-mosaics
  --force``) named it or an earlier stage;
- ``no stored result for this key``: the inputs, the configuration the stage depends on, the
  calibration files or the stage's code changed (cache keys, :mod:`rovercam.cachekey`). When the
  sol ran before, the reason names what changed since that run (the run's
  :func:`~rovercam.cachekey.fingerprint`, kept in its report): ``(changed since run 1a2b3c4d:
  configuration [mosaic])``;
- for the sol record: a published file missing, or failures earlier in this run (fetch).

Planning is staged, as the work is: mosaics are planned once the frames are calibrated (their
band counts split groups), publishing once the mosaics are built. Where a result lives:

=========== ==================================================================================
unit        stored result (``<key16>``: the first 16 hex digits of the key)
=========== ==================================================================================
sol         ``work/sol<N>/runs/<key16>.json`` (the report of a clean run)
ingest      ``prefect-results/ingest-product-<key>`` (the task's recorded result)
calibrate   ``work/sol<N>/calibrated/<product>/<key16>/frame.blob``
stereo      ``prefect-results/stereo-pair-<key>`` (the task's recorded result: the published pair)
terrain     ``prefect-results/terrain-<key>`` (likewise: the published site/drive terrain)
mosaic      ``work/sol<N>/mosaic/<name>/<key16>/mosaic.npz``
publish     ``prefect-results/publish-mosaic-<key>`` (the task's recorded result)
=========== ==================================================================================
"""
from __future__ import annotations

import json
import posixpath
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence

from rovercam import cachekey, layout
from rovercam.config import Settings
from rovercam.ingest import IngestResult
from rovercam.mosaic.grouping import group_records, mosaic_name, split_by_bands
from rovercam.pipeline.pairing import StereoPair
from rovercam.pipeline.results import FrameRef, MosaicRef
from rovercam.pipeline.stages import STAGES
from rovercam.storage import Store, arrayblob

__all__ = [
    "Action", "Decision", "MosaicPlan", "Planner", "PreviousRun", "previous_run", "summarize",
    "RESULTS_PREFIX", "RECORDING_TASKS", "record_name", "FRAME_FILE", "MOSAIC_FILE",
]

Action = Literal["reuse", "compute", "skip"]

#: Where tasks record their results under the storage root (the orchestrator's result storage).
RESULTS_PREFIX = "prefect-results"
#: The tasks whose recorded result is a stage's stored result (the stage stores no file of its own).
RECORDING_TASKS = {"ingest": "ingest-product", "stereo": "stereo-pair", "terrain": "terrain",
                   "publish": "publish-mosaic"}
#: The calibrated frame's file in its folder, and the built mosaic's.
FRAME_FILE = "frame.blob"
MOSAIC_FILE = "mosaic.npz"

ASKED = "refresh asked for this stage"
MISSING = "no stored result for this key"


def record_name(task: str, key: str) -> str:
    """The name a task's result is recorded under in :data:`RESULTS_PREFIX`: ``<task>-<key>``
    (also the task's cache key)."""
    return f"{task}-{key}"


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to one unit of work.

    Attributes
    ----------
    stage : str
        ``"sol"``, ``"ingest"``, ``"calibrate"``, ``"stereo"``, ``"terrain"``, ``"mosaic"`` or
        ``"publish"``.
    unit : str
        The sol (``sol00100``), a product file name (ingest), a product id (calibrate), a pair's
        left product id (stereo), a terrain name (terrain) or a mosaic name (mosaic, publish).
    action : {"reuse", "compute", "skip"}
        ``"skip"``: nothing to do (a group with too few frames for a mosaic).
    key : str
        The unit's cache key ("" where it is not known yet).
    stored : str
        Store key of the unit's stored result: what ``reuse`` reads, where ``compute`` writes.
    reason : str
        Why it is computed or skipped ("" for ``reuse``).
    """

    stage: str
    unit: str
    action: Action
    key: str = ""
    stored: str = ""
    reason: str = ""

    @property
    def reuse(self) -> bool:
        return self.action == "reuse"

    def __str__(self) -> str:
        return f"reuse {self.stored}" if self.reuse else f"{self.action}: {self.reason}"


@dataclass(frozen=True, slots=True)
class MosaicPlan:
    """One mosaic to build or reuse: its frames, its key (None until they are all calibrated)
    and the decision. ``terrain``: with ``[mosaic] surface = "terrain"``, the names of the site
    and drive terrains (:func:`rovercam.layout.terrain_name`) of its frames, the DEM it is
    projected onto."""

    name: str
    refs: tuple[FrameRef, ...]
    key: str | None
    decision: Decision
    terrain: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """The sol's latest completed run that recorded a fingerprint (to name what changed since)."""

    run_id: str
    fingerprint: Mapping[str, str]


def previous_run(catalog: Any, sol: int) -> PreviousRun | None:
    """The latest completed run of ``sol`` in ``catalog`` whose report holds a fingerprint."""
    for run in catalog.runs(sol=sol, limit=5):
        fp = run.summary.get("fingerprint") if run.status == "completed" else None
        if fp:
            return PreviousRun(run.run_id, dict(fp))
    return None


def summarize(decisions: Iterable[Decision]) -> str:
    """``"3 reuse, 2 compute (no stored result for this key)"``: counts and distinct reasons."""
    decisions = list(decisions)
    counts = Counter(d.action for d in decisions)
    reasons = list(dict.fromkeys(d.reason for d in decisions if d.action == "compute"))
    text = ", ".join(f"{counts[a]} {a}" for a in ("reuse", "compute", "skip") if counts[a]) or "nothing"
    return text + (f" ({'; '.join(reasons)})" if reasons else "")


@dataclass(frozen=True)
class Planner:
    """Decides, stage by stage, what to reuse from the store and what to compute.

    Parameters
    ----------
    settings : Settings
    store : rovercam.storage.Store
        The storage root the results live in (only read: existence checks, small records).
    refresh : iterable of str
        Stages to recompute regardless of what is stored
        (:func:`rovercam.pipeline.stages.stages_to_refresh`).
    previous : PreviousRun, optional
        The sol's latest run, to name what changed since in the reasons.
    """

    settings: Settings
    store: Store
    refresh: frozenset[str] = field(default_factory=frozenset)
    previous: PreviousRun | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "refresh", frozenset(self.refresh))

    @cached_property
    def calibration(self) -> str:
        """The calibration files' fingerprint (walked once per planner)."""
        return cachekey.calibration_fingerprint(self.settings)

    @cached_property
    def _now(self) -> dict[str, str]:
        return cachekey.fingerprint(self.settings, calibration=self.calibration)

    def fingerprint(self, products: Sequence[tuple[str, str]] = ()) -> dict[str, str]:
        """:func:`rovercam.cachekey.fingerprint` of this planner's settings, plus the sol's
        ``"product files"`` (their names and content digests) when ``products`` are given."""
        out = dict(self._now)
        if products:
            out["product files"] = cachekey.digest(sorted(_named(products)))[:16]
        return out

    # --- reasons ---------------------------------------------------------------------------------

    def _missing(self, stage: str, what: str = MISSING, now: Mapping[str, str] | None = None,
                 also: Sequence[str] = ()) -> str:
        """``what``, with the parts of the key that changed since the previous run (the parts of
        ``stage`` and of the ``also`` stages whose keys it holds: a terrain mosaic's, the stereo
        stage's)."""
        if self.previous is None:
            return what
        now = now if now is not None else self._now
        before = self.previous.fingerprint
        parts = dict.fromkeys(p for s in (stage, *also) for p in cachekey.fingerprint_parts(s))
        changed = [p for p in parts if p in now and before.get(p) != now[p]]
        if not changed:
            return what
        named = ", ".join(f"configuration {p}" if p.startswith("[") else p for p in changed)
        return f"{what} (changed since run {self.previous.run_id[:8]}: {named})"

    def _decide(self, stage: str, unit: str, key: str, stored: str, *, refresh_as: str | None = None,
                also: Sequence[str] = ()) -> Decision:
        if (refresh_as or stage) in self.refresh:
            return Decision(stage, unit, "compute", key, stored, ASKED)
        if self.store.exists(stored):
            return Decision(stage, unit, "reuse", key, stored)
        return Decision(stage, unit, "compute", key, stored, self._missing(stage, also=also))

    # --- the stages ------------------------------------------------------------------------------

    def sol(self, sol: int, products: Sequence[tuple[str, str]], *, failures: int = 0) -> Decision:
        """The whole sol: reuse the report of a clean run with the same key whose published files
        are all still in the store (``products``: (path, content sha256) pairs).

        ``failures``: problems this run already has (fetch failures); such a run never stands
        in for a clean one.
        """
        key = cachekey.sol_key(_named(products), self.settings, calibration=self.calibration)
        stored = layout.run_record_key(sol, key)
        unit = layout.sol_part(sol)
        if self.refresh:
            asked = ", ".join(s for s in STAGES if s in self.refresh)
            return Decision("sol", unit, "compute", key, stored, f"refresh asked for {asked}")
        if not self.store.exists(stored):
            return Decision("sol", unit, "compute", key, stored,
                            self._missing("sol", "no stored run record for this key", self.fingerprint(products)))
        if failures:
            return Decision("sol", unit, "compute", key, stored, f"this run already has {failures} failure(s)")
        record = json.loads(self.store.read_bytes(stored))
        for p in record.get("published", []):
            for k in ("cog_key", "png_key", "stac_key"):
                if p.get(k) and not self.store.exists(p[k]):
                    return Decision("sol", unit, "compute", key, stored, f"published file {p[k]} is missing")
        for p in record.get("stereo", []) + record.get("terrain", []):
            for k in p.get("keys", {}).values():
                if not self.store.exists(k):
                    return Decision("sol", unit, "compute", key, stored, f"published file {k} is missing")
        return Decision("sol", unit, "reuse", key, stored)

    def ingest(self, sol: int, products: Sequence[tuple[str, str]]) -> list[Decision]:
        """One decision per product (path, content sha256), in order; reused from the ingest
        task's recorded result."""
        out = []
        for path, sha in products:
            key = cachekey.ingest_key(sha, self.settings, sol=sol)
            stored = f"{RESULTS_PREFIX}/{record_name(RECORDING_TASKS['ingest'], key)}"
            out.append(self._decide("ingest", _file_name(path), key, stored))
        return out

    def calibrate(self, items: Sequence[IngestResult]) -> list[Decision]:
        """One decision per ingested product, in order; reused from its stored calibrated frame."""
        per_stage = self.settings.prefect.chain_tasks == "per-stage"
        out = []
        for item in items:
            key = cachekey.calibrate_key(item.content_sha256 or item.sha256, self.settings,
                                         calibration=self.calibration)
            stored = f"{layout.calibrated_prefix(item.sol, item.product_id or '', key)}/{FRAME_FILE}"
            if per_stage:
                out.append(Decision("calibrate", item.product_id or "", "compute", key, stored,
                                    "per-stage chain tasks keep no calibrated frame to reuse"))
            else:
                out.append(self._decide("calibrate", item.product_id or "", key, stored))
        return out

    def stereo(self, pairs: Sequence[StereoPair], frame_keys: Mapping[str, str]) -> list[Decision]:
        """One decision per stereo pair, in order (``frame_keys``: product id -> calibrate key);
        reused from the stereo task's recorded result (the published pair)."""
        out = []
        for p in pairs:
            key = cachekey.stereo_key(layout.stereo_name(p.left), frame_keys[p.left], frame_keys[p.right],
                                      self.settings)
            stored = f"{RESULTS_PREFIX}/{record_name(RECORDING_TASKS['stereo'], key)}"
            out.append(self._decide("stereo", p.name, key, stored))
        return out

    def terrain(self, pairs: Sequence[StereoPair], decisions: Sequence[Decision]) -> list[Decision]:
        """One decision per site and drive of ``pairs`` (names sorted), from its pairs' stereo
        decisions (their keys); reused from the terrain task's recorded result. Refreshed with
        the ``stereo`` stage; none when ``[stereo_stage] terrain`` is off."""
        if not self.settings.stereo_stage.terrain:
            return []
        groups: dict[str, list[str]] = {}
        for p, d in zip(pairs, decisions):
            groups.setdefault(layout.terrain_name(p.site, p.drive), []).append(d.key)
        out = []
        for name, keys in sorted(groups.items()):
            key = cachekey.terrain_key(name, keys, self.settings)
            stored = f"{RESULTS_PREFIX}/{record_name(RECORDING_TASKS['terrain'], key)}"
            out.append(replace(self._decide("stereo", name, key, stored), stage="terrain"))
        return out

    def mosaics(self, sol: int, frames: Sequence[FrameRef], frame_keys: Mapping[str, str],
                describe: Callable[[str], Any], *, terrain: Mapping[str, str] | None = None) -> list[MosaicPlan]:
        """One plan per group of frames (``[mosaic] group_by``, split by band count).

        ``describe`` maps a product id to the record its grouping fields are read from (its
        :class:`~rovercam.ingest.IngestResult`). Band counts are read from the stored frames'
        heads; a group with a frame not in the store yet (a dry run before calibration) is
        planned as a whole, its split and key unknown. A group (or band split) with fewer than
        ``[mosaic] min_frames`` frames is skipped.

        With ``[mosaic] surface = "terrain"``, each plan names the terrains of its frames' sites
        and drives (:attr:`MosaicPlan.terrain`) and its key holds their keys, taken from
        ``terrain`` (terrain name -> :func:`~rovercam.cachekey.terrain_key`; a terrain not in it
        is left out, and the mosaic stage fails that mosaic). Other surfaces ignore ``terrain``.
        """
        fields = self.settings.mosaic.group_by
        projection = self.settings.mosaic.projection
        on_terrain, known = self.settings.mosaic.surface == "terrain", terrain or {}
        out: list[MosaicPlan] = []
        for group, members in group_records(list(frames), fields,
                                            describe=lambda ref: describe(ref.product_id)).items():
            bands = {ref.product_id: self._bands(ref) for ref in members}
            if None in bands.values():
                name = mosaic_name(group, fields, projection)
                reason = ASKED if "mosaic" in self.refresh else \
                    "its frames are calibrated first (the band split and key follow)"
                out.append(MosaicPlan(name, tuple(members), None, Decision("mosaic", name, "compute", reason=reason)))
                continue
            for band, refs in split_by_bands(members, lambda ref: bands[ref.product_id]):
                name = mosaic_name(group, fields, projection, bands=band)
                if len(refs) < self.settings.mosaic.min_frames:
                    few = f"{len(refs)} frame(s), fewer than [mosaic] min_frames = {self.settings.mosaic.min_frames}"
                    out.append(MosaicPlan(name, tuple(refs), None, Decision("mosaic", name, "skip", reason=few)))
                    continue
                names = _terrain_names(refs, describe) if on_terrain else ()
                dem_keys = [known[n] for n in names if n in known] if on_terrain else None
                key = cachekey.mosaic_key(name, [frame_keys[r.product_id] for r in refs], self.settings,
                                          terrain=dem_keys)
                stored = f"{layout.mosaic_work_prefix(sol, name, key)}/{MOSAIC_FILE}"
                decision = self._decide("mosaic", name, key, stored, also=("stereo",) if on_terrain else ())
                out.append(MosaicPlan(name, tuple(refs), key, decision, names))
        return out

    def publish(self, mosaics: Sequence[MosaicRef]) -> list[Decision]:
        """One decision per mosaic, in order; reused from the publish task's recorded result.
        A mosaic whose key is not known yet (``key == ""``) is published after it is built."""
        out = []
        for m in mosaics:
            if not m.key:
                out.append(Decision("publish", m.name, "compute",
                                    reason=ASKED if "publish" in self.refresh else "its mosaic is planned first"))
                continue
            key = cachekey.publish_key(m.key, self.settings)
            stored = f"{RESULTS_PREFIX}/{record_name(RECORDING_TASKS['publish'], key)}"
            out.append(self._decide("publish", m.name, key, stored,
                                    also=("stereo",) if self.settings.mosaic.surface == "terrain" else ()))
        return out

    def _bands(self, ref: FrameRef) -> int | None:
        """Band count of a stored frame (1 for an (H, W) image), from its head; None when absent."""
        if not self.store.exists(ref.key):
            return None
        return stored_bands(self.store, ref.key)


def stored_bands(store: Store, key: str) -> int:
    """Band count of the frame blob at ``key`` (1 for an (H, W) image), from the blob's head only."""
    with store.open(key) as f:
        shape, _, _ = arrayblob.peek(f)
    return 1 if len(shape) == 2 else int(shape[2])


def _terrain_names(refs: Sequence[FrameRef], describe: Callable[[str], Any]) -> tuple[str, ...]:
    """The terrain names (:func:`rovercam.layout.terrain_name`) of the frames' sites and drives, sorted."""
    records = [describe(r.product_id) for r in refs]
    return tuple(sorted({layout.terrain_name(getattr(d, "site", None), getattr(d, "drive", None)) for d in records}))


def _file_name(path: str) -> str:
    return posixpath.basename(str(path).replace("\\", "/"))


def _named(products: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """(file name, content sha256) pairs, as the sol key takes them."""
    return [(str(p).rsplit("/", 1)[-1], sha) for p, sha in products]
