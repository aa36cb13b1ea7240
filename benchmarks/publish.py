"""Publish benchmark: throughput to local disk and to an S3 endpoint, and the SIGKILL trials.

Data are generated here (:func:`sample_mosaic`: seeded random radiance with an uncovered sky
band, like a cylindrical Navcam panorama). The S3 endpoint is a moto server started on a free
127.0.0.1 port (:func:`moto_s3`; needs ``pip install 'rovercam[s3]'``, else the S3 figures are
None). Figures:

- ``local_products_per_s``, ``local_mb_s``: mosaics published per second (COG + PNG preview +
  thumbnail + STAC item, encode included) and published megabytes (10^6 bytes) per second;
- ``s3_products_per_s``, ``s3_mb_s``: the same into ``s3://`` on the moto server;
- ``kill_trials``, ``kill_partial_visible``: publishing processes killed with SIGKILL at random
  moments, and how many trials left a partial product visible in storage or catalog
  (:func:`rovercam.publish.audit_published`); ``kill_rerun_ok``: trials whose re-run completed.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rovercam.mosaic.model import CylindricalProjection, Mosaic
from rovercam.provenance import Provenance

__all__ = ["run", "sample_mosaic", "moto_s3"]

log = logging.getLogger(__name__)

_UTC = _dt.timezone.utc


def sample_mosaic(
    seed: int = 0,
    *,
    sol: int = 100,
    instrument: str = "NAVCAM_LEFT",
    name: str | None = None,
    width: int = 700,
    height: int = 240,
) -> Mosaic:
    """A deterministic synthetic mosaic (the same arguments give the same bytes when published).

    Parameters
    ----------
    seed : int
        Random radiance seed; different seeds give different content (a new version).
    sol, instrument : int, str
        Recorded in the mosaic; the input product ids and times follow from them.
    name : str, optional
        Default ``f"{instrument}_{sol:05d}_CYL"``.
    width, height : int
        Pixels; the top sixth (sky) and the right 7 % are NaN (not covered).

    Returns
    -------
    Mosaic
        ``image`` (height, width, 3) float32 radiance in [0, 0.1) W m-2 sr-1 nm-1; two inputs
        in the provenance; start/stop time on sol-dependent dates (UTC).
    """
    rng = np.random.default_rng(seed)
    image = (rng.random((height, width, 3), dtype=np.float32) * np.float32(0.1)).astype(np.float32)
    image[: height // 6, :] = np.nan
    image[:, width - max(1, width * 7 // 100):] = np.nan
    start = _dt.datetime(2021, 2, 18, tzinfo=_UTC) + _dt.timedelta(days=sol * 1.0275, hours=seed % 12)
    code = instrument[:1] + instrument.split("_")[-1][:1]
    inputs = {f"{code}F_{sol:04d}_{673000000 + 10 * i + seed}_A": f"{(seed + i) % 16:x}" * 64
              for i in range(2)}
    return Mosaic(
        name=name or f"{instrument}_{sol:05d}_CYL",
        sol=sol,
        instrument=instrument,
        image=image,
        projection=CylindricalProjection(az_start_deg=-35.0, el_top_deg=12.0, scale_deg=0.1,
                                         width=width, height=height),
        provenance=Provenance(inputs=inputs, calibration={"FLAT.IMG": "f" * 64},
                              steps=["mosaic: cylindrical"], software_version="0.1.0",
                              config_hash="c" * 64),
        start_time=start,
        stop_time=start + _dt.timedelta(minutes=5),
    )


@contextlib.contextmanager
def moto_s3(bucket: str = "rovercam") -> Iterator[dict[str, Any]]:
    """A moto S3 server on a free 127.0.0.1 port with one empty bucket, for tests and benchmarks.

    Yields
    ------
    dict
        ``{"root": "s3://<bucket>", "storage_options": {...}, "endpoint_url": ...}``; pass
        ``root`` and ``storage_options`` to :class:`rovercam.storage.Store`.

    Raises
    ------
    ImportError
        moto, boto3 or s3fs is not installed (``pip install 'rovercam[s3]'``).
    """
    import boto3
    import s3fs  # noqa: F401 - fail here, not at the first Store, when it is missing
    from moto.server import ThreadedMotoServer

    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        creds = {"aws_access_key_id": "rovercam-test", "aws_secret_access_key": "rovercam-test"}
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **creds).create_bucket(
            Bucket=bucket)
        options = {"endpoint_url": endpoint, "key": creds["aws_access_key_id"],
                   "secret": creds["aws_secret_access_key"],
                   "client_kwargs": {"region_name": "us-east-1"}}
        yield {"root": f"s3://{bucket}", "storage_options": options, "endpoint_url": endpoint}
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _publish_rate(root: str, storage_options: dict[str, Any] | None, catalog_url: str,
                  mosaics: list[Mosaic]) -> tuple[float, float]:
    """(products per second, MB per second) publishing ``mosaics`` one after another."""
    from rovercam.catalog import Catalog
    from rovercam.publish import publish_mosaic
    from rovercam.storage import Store

    store = Store(root, storage_options=storage_options)
    nbytes = 0
    with Catalog(catalog_url) as catalog:
        start = time.perf_counter()
        for m in mosaics:
            publish_mosaic(m, store=store, catalog=catalog)
        elapsed = time.perf_counter() - start
        for out in catalog.outputs():
            nbytes += sum(store.fs.size(f"{store.root}/{k}") for k in out.storage_keys.values())
    return len(mosaics) / elapsed, nbytes / 1e6 / elapsed


def run(*, quick: bool = False) -> dict[str, object]:
    """Measure the publish figures (see the module docstring); ``quick`` for a smoke run."""
    from rovercam_benchmarks.sigkill import run_kill_trials

    n, (w, h) = (3, (1024, 384)) if quick else (8, (2048, 640))
    mosaics = [sample_mosaic(i, name=f"BENCH_{i:03d}", width=w, height=h) for i in range(n)]
    figures: dict[str, object] = {"mosaic_size": f"{w}x{h}", "products": n}
    with tempfile.TemporaryDirectory(prefix="rovercam-bench-publish-") as tmp_name:
        tmp = Path(tmp_name)
        rate, mb = _publish_rate(str(tmp / "local"), None, f"sqlite:///{tmp / 'local.db'}", mosaics)
        figures.update(local_products_per_s=rate, local_mb_s=mb)
        try:
            server = moto_s3(bucket=f"bench-{uuid.uuid4().hex[:8]}")
            with server as s3:
                rate, mb = _publish_rate(s3["root"], s3["storage_options"], f"sqlite:///{tmp / 's3.db'}",
                                         mosaics)
            figures.update(s3_products_per_s=rate, s3_mb_s=mb, s3_endpoint="moto server (127.0.0.1)")
        except ImportError as e:
            log.warning("S3 figures skipped: %s (pip install 'rovercam[s3]')", e)
            figures.update(s3_products_per_s=None, s3_mb_s=None, s3_endpoint=f"unavailable: {e}")
        report = run_kill_trials(tmp / "kill" / "store", trials=5 if quick else 20, seed=0)
        figures.update(kill_trials=report.trials, kill_partial_visible=report.partial_visible,
                       kill_landed_mid_publish=report.killed, kill_rerun_ok=report.rerun_ok,
                       kill_elapsed_s=report.elapsed_s)
        for problem in report.problems:
            log.warning("kill trials: %s", problem)
    return figures
