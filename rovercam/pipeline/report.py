"""What a sol run did: :class:`SolReport`, the one report of every sol flow (ingest-sol,
reprocess-sol, build-mosaics, process-edl)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from rovercam import cachekey
from rovercam.config import Settings
from rovercam.ingest import IngestResult
from rovercam.pipeline.results import CalibrateResult, Failure, MosaicResult, PublishResult

__all__ = ["SolReport"]


@dataclass
class SolReport:
    """What a sol run did (returned by the flows; small and JSON-friendly).

    ``reused`` counts results taken from earlier runs by stage (``{"sol": 1}`` when the whole
    run was); ``fingerprint`` is what the run's keys were made of
    (:func:`rovercam.cachekey.fingerprint`), so a later plan can name what changed since.
    ``sequences``, ``descents``, ``videos`` and ``dem`` are filled by EDL runs (process-edl).
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

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    # --- the run's bookkeeping -------------------------------------------------------------------

    def start(self, catalog: Any, *, flow: str, settings: Settings) -> None:
        """Record the run as started in ``catalog`` (a :class:`rovercam.catalog.Catalog`)."""
        self.flow, self.storage_root = flow, settings.storage_root
        self.run_id = catalog.start_run(flow=flow, sol=self.sol, config_hash=settings.config_hash,
                                        software_version=cachekey.code_version())

    def finish(self, catalog: Any) -> None:
        """Record the run as completed, with this report as its summary."""
        catalog.finish_run(self.run_id, status="completed", summary=self.to_dict())

    def reuse_run(self, record: dict[str, Any]) -> None:
        """Take over the outcome of an earlier clean run with the same sol key (its report)."""
        for f in ("ingested", "duplicates", "failed", "published", "products"):
            setattr(self, f, record[f])
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
