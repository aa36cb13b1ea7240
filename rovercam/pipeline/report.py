"""What a sol run did: :class:`SolReport`, the one report of every sol flow (ingest-sol,
reprocess-sol, build-mosaics, process-edl)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from rovercam import cachekey
from rovercam.config import Settings
from rovercam.ingest import IngestResult
from rovercam.pipeline.results import CalibrateResult, Failure, MosaicResult, PublishResult, StereoResult

__all__ = ["SolReport"]


@dataclass
class SolReport:
    """What a sol run did (returned by the flows; small and JSON-friendly).

    ``reused`` counts results taken from earlier runs by stage (``{"sol": 1}`` when the whole
    run was); ``fingerprint`` is what the run's keys were made of
    (:func:`rovercam.cachekey.fingerprint`), so a later plan can name what changed since.
    ``sequences``, ``descents``, ``videos`` and ``dem`` are filled by EDL runs (process-edl).
    ``stereo`` and ``terrain`` list the published stereo pairs and site/drive terrains, and
    ``unpaired`` the frames of stereo cameras that found no partner, with the reason (the
    ``stereo`` stage, docs/stereo.md#pipeline); ``published`` stays the mosaics.
    ``calibration`` is the calibration folders that came with the sol's source, searched first
    (:mod:`rovercam.pipeline.calibration`). ``status`` is how the run ended in the catalog
    (``completed``, or ``failed`` when nothing came out of it: see :meth:`failure`), and
    ``reason`` why it failed.
    """

    sol: int
    flow: str = ""
    run_id: str = ""
    products_found: int = 0
    ingested: list[Any] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    published: list[dict[str, Any]] = field(default_factory=list)
    reused: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    storage_root: str = ""
    fetched: list[str] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    descents: list[dict[str, Any]] = field(default_factory=list)
    videos: list[dict[str, Any]] = field(default_factory=list)
    dem: str | None = None
    stereo: list[dict[str, Any]] = field(default_factory=list)
    terrain: list[dict[str, Any]] = field(default_factory=list)
    unpaired: list[dict[str, str]] = field(default_factory=list)
    calibration: list[str] = field(default_factory=list)
    status: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    # --- the run's bookkeeping -------------------------------------------------------------------

    def start(self, catalog: Any, *, flow: str, settings: Settings) -> None:
        """Record the run as started in ``catalog`` (a :class:`rovercam.catalog.Catalog`), under
        ``run_id`` when one was chosen before (the sol's lease names it), else a new id."""
        self.flow, self.storage_root = flow, settings.storage_root
        self.run_id = catalog.start_run(flow=flow, sol=self.sol, config_hash=settings.config_hash,
                                        software_version=cachekey.code_version(), run_id=self.run_id or None)

    def finish(self, catalog: Any) -> None:
        """Record the run as ``failed`` when nothing came out of it (:meth:`failure`, the reason in
        ``reason``), else ``completed`` (a partial success lists its failures); this report is
        the run's summary."""
        reason = self.failure()
        self.status, self.reason = ("failed", reason) if reason else ("completed", "")
        catalog.finish_run(self.run_id, status=self.status, summary=self.to_dict())

    def abort(self, catalog: Any, reason: str) -> None:
        """Record the run as ``failed`` because a step raised (``reason``); started if need be."""
        self.status, self.reason = "failed", reason
        if self.run_id:
            catalog.finish_run(self.run_id, status="failed", summary=self.to_dict())

    def failure(self) -> str | None:
        """Why the run failed as a whole, or None.

        A run fails when it had something to do and nothing came of it: every product's fetch
        failed, no product was calibrated (all quarantined or failed in the chain), or every
        mosaic (every EDL product) it tried failed to build or publish. A run reused whole, or
        with nothing to do, has not failed.
        """
        if self.reused.get("sol"):
            return None
        by_stage: dict[str, int] = {}
        for f in self.failed:
            by_stage[f.get("stage", "")] = by_stage.get(f.get("stage", ""), 0) + 1
        if not self.products_found:
            return f"fetch failed for all {by_stage['fetch']} product(s)" if by_stage.get("fetch") else None
        failed_chain = {f["product_id"] for f in self.failed if f.get("stage") == "calibrate"}
        if not set(self.ingested) - failed_chain and (self.quarantined or failed_chain):
            return (f"no product calibrated ({len(self.quarantined)} quarantined, "
                    f"{len(failed_chain)} failed in the chain)")
        built = by_stage.get("mosaic", 0) + by_stage.get("publish", 0)
        if built and not self.published:
            return f"every mosaic failed ({by_stage.get('mosaic', 0)} to build, {by_stage.get('publish', 0)} to publish)"
        if by_stage.get("edl") and not (self.descents or self.videos):
            return f"every EDL product failed ({by_stage['edl']})"
        return None

    def reuse_run(self, record: dict[str, Any]) -> None:
        """Take over the outcome of an earlier clean run with the same sol key (its report)."""
        for f in ("ingested", "duplicates", "failed", "published", "products"):
            setattr(self, f, record[f])
        for f in ("stereo", "terrain", "unpaired"):  # absent from records of runs before the stereo stage
            setattr(self, f, record.get(f, []))
        self.quarantined += [q for q in record["quarantined"] if q not in self.quarantined]
        self.reused = {"sol": 1}

    # --- stage by stage --------------------------------------------------------------------------

    def record_ingest(self, results: Sequence[IngestResult]) -> list[IngestResult]:
        """Note ingested, quarantined and duplicate products; returns the ingested results."""
        ingested = [r for r in results if r.state == "ingested"]
        self.ingested = [r.product_id for r in ingested]
        self.quarantined += [{"path": r.path, "reason": r.reason} for r in results if r.state == "quarantined"]
        self.duplicates = [{"path": r.path, "duplicate_of": r.duplicate_of}
                           for r in results if r.state == "duplicate"]
        return ingested

    def record_failures(self, failures: Iterable[Failure]) -> None:
        self.failed += [f.to_dict() for f in failures]

    def record_calibrate(self, result: CalibrateResult) -> None:
        self.record_failures(result.failed)
        self.reused["calibrate"] = result.reused

    def record_stereo(self, result: StereoResult) -> None:
        self.stereo = list(result.pairs)
        self.terrain = list(result.terrain)
        self.unpaired = list(result.unpaired)
        self.record_failures(result.failed)
        self.reused["stereo"] = result.reused

    def record_mosaics(self, result: MosaicResult) -> None:
        self.record_failures(result.failed)
        self.reused["mosaic"] = result.reused

    def record_publish(self, result: PublishResult) -> None:
        self.published = list(result.published)
        self.record_failures(result.failed)
        self.reused["publish"] = result.reused

    def record_products(self, results: Sequence[IngestResult], calibrated: Iterable[str]) -> None:
        """The table of every product and what became of it (ingest state, or calibrated/failed)."""
        done = set(calibrated)
        self.products = [
            {"product": r.product_id or "", "file": r.path.rsplit("/", 1)[-1], "instrument": r.instrument or "",
             "state": r.state if r.state != "ingested" else ("calibrated" if r.product_id in done else "failed"),
             "reason": r.reason or ""}
            for r in results
        ]
