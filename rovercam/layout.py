"""Where everything lives under the storage root, and what published outputs are called.

Every store key and every output id is built here and nowhere else, so the layout of a storage
root can be read in one page (docs/architecture.md draws it)::

    <root>/
      incoming/sol00100/             fetched raw products, as the source named them
      quarantine/sol00100/           rejected files, <name>-<sha12>, with their reason
      sol00100/<kind>s/<name>/vN/    published outputs (mosaics, cubes, videos, EDL products,
                                     stereo pairs: stereos/, terrain: terrains/)
      work/sol00100/                 the pipeline's reusable intermediate results:
        calibrated/<product>/<key16>/    one calibrated frame
        <stage>/<product>/               one frame after a chain stage (per-stage task mode)
        mosaic/<name>/<key16>/           a built mosaic waiting to be published
        runs/<key16>.json                the record of a clean sol run
      catalog.sqlite                 the catalog (unless configured elsewhere)

``<key16>`` is the first 16 hex digits of the stage's cache key (:mod:`rovercam.cachekey`).
"""
from __future__ import annotations

import posixpath
import re
from pathlib import Path

__all__ = [
    "MAX_SOL",
    "sol_part",
    "is_pipeline_area",
    "published_prefix",
    "mosaic_prefix",
    "output_id",
    "stereo_name",
    "terrain_name",
    "quarantine_prefix",
    "incoming_dir",
    "generated_sol_dir",
    "work_prefix",
    "calibrated_prefix",
    "stage_prefix",
    "mosaic_work_prefix",
    "run_record_key",
]


#: The largest sol a parameter names: five digits, as :func:`sol_part` writes it (about 270 Earth
#: years of surface operations). Beyond it folder names would stop sorting by sol.
MAX_SOL = 99_999


def sol_part(sol: int | None) -> str:
    """``sol00100``, or ``unknown-sol`` for a product whose sol is not known."""
    return f"sol{sol:05d}" if sol is not None else "unknown-sol"


_WRITTEN_TOP = re.compile(r"(incoming|quarantine|work|sol[0-9]{5,}|unknown-sol|catalog\.sqlite.*|\..*)")


def is_pipeline_area(relative: str) -> bool:
    """Whether ``relative`` (a path inside a storage root, ``/``-separated) lies in a part of the
    root the pipeline writes: ``incoming/``, ``quarantine/``, ``work/``, a published sol folder,
    the catalog, or a hidden folder of the store (``.tmp/``, ``.versions/``).

    >>> is_pipeline_area("incoming/sol00100"), is_pipeline_area("synthetic/sol00100/raw")
    (True, False)
    """
    top = relative.strip("/").split("/")[0]
    return bool(top) and _WRITTEN_TOP.fullmatch(top) is not None


# --- published outputs ----------------------------------------------------------------------------

def published_prefix(sol: int, kind: str, name: str) -> str:
    """Store prefix of a published output's versions: ``sol00100/<kind>s/<name>``."""
    return f"{sol_part(sol)}/{kind}s/{name}"


def mosaic_prefix(sol: int, name: str) -> str:
    """Store prefix of a mosaic's versions: ``sol00100/mosaics/<name>``."""
    return published_prefix(sol, "mosaic", name)


def output_id(prefix: str, sol: int, name: str, version: int) -> str:
    """Catalog output id (and STAC item id) of a published version: ``M2020-sol00100-NAME-v1``.

    ``prefix`` is the mission id, or the output kind where no mission is known.
    """
    return f"{prefix}-{sol_part(sol)}-{name}-v{version}"


def stereo_name(left_product_id: str) -> str:
    """Name of a stereo pair's output (kind ``"stereo"``): ``<left product id>_STEREO``."""
    return f"{left_product_id}_STEREO"


def terrain_name(site: int | None, drive: int | None) -> str:
    """Name of a site and drive's merged terrain (kind ``"terrain"``): ``SITE00003_DRIVE00042_TERRAIN``
    (``SITEunknown`` / ``DRIVEunknown`` where the labels give none)."""
    s = f"{site:05d}" if site is not None else "unknown"
    d = f"{drive:05d}" if drive is not None else "unknown"
    return f"SITE{s}_DRIVE{d}_TERRAIN"


# --- inputs ---------------------------------------------------------------------------------------

def quarantine_prefix(sol: int | None, path: str | Path, sha256: str) -> str:
    """Store prefix of a quarantined file: ``quarantine/sol00100/<name>-<sha12>``."""
    name = posixpath.basename(str(path).replace("\\", "/")) or "product"
    return f"quarantine/{sol_part(sol)}/{name}-{sha256[:12]}"


def incoming_dir(root: str | Path, sol: int) -> Path:
    """The staging folder of a sol's fetched products: ``<root>/incoming/sol00100``."""
    return Path(root) / "incoming" / sol_part(sol)


def generated_sol_dir(root: str | Path, sol: int) -> Path:
    """Where ``rovercam demo`` generates its sample sol: ``<root>/synthetic/sol00100``."""
    return Path(root) / "synthetic" / sol_part(sol)


# --- the work area --------------------------------------------------------------------------------

def work_prefix(sol: int | None) -> str:
    """The work area of one sol: ``work/sol00100``."""
    return f"work/{sol_part(sol)}"


def calibrated_prefix(sol: int | None, product_id: str, key: str) -> str:
    """A calibrated frame: ``work/sol00100/calibrated/<product>/<key16>``."""
    return f"{work_prefix(sol)}/calibrated/{product_id}/{key[:16]}"


def stage_prefix(sol: int | None, stage: str, product_id: str) -> str:
    """A frame after one chain stage (per-stage task mode): ``work/sol00100/<stage>/<product>``."""
    return f"{work_prefix(sol)}/{stage}/{product_id}"


def mosaic_work_prefix(sol: int, name: str, key: str) -> str:
    """A built mosaic waiting to be published: ``work/sol00100/mosaic/<name>/<key16>``."""
    return f"{work_prefix(sol)}/mosaic/{name}/{key[:16]}"


def run_record_key(sol: int, key: str) -> str:
    """The record of a clean sol run: ``work/sol00100/runs/<key16>.json``."""
    return f"{work_prefix(sol)}/runs/{key[:16]}.json"
