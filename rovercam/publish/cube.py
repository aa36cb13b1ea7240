"""Publish a multispectral cube as NetCDF (kind ``"cube"``): ``sol<sol:05d>/cubes/<name>/v<N>/``
holds ``<name>.nc`` and ``<name>.stac.json`` (:mod:`rovercam.publish.core`).
"""
from __future__ import annotations

import datetime as _dt
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rovercam.catalog.db import Catalog
from rovercam.errors import RovercamError
from rovercam.provenance import Provenance
from rovercam.publish.core import PublishedProduct, check_name, publish_files
from rovercam.storage.store import Store

if TYPE_CHECKING:
    import xarray

__all__ = ["publish_cube", "NETCDF_MEDIA_TYPE"]

#: Media type of NetCDF files (the one STAC's best-practices list for NetCDF).
NETCDF_MEDIA_TYPE = "application/x-netcdf"


def publish_cube(
    ds: "xarray.Dataset",
    *,
    name: str,
    sol: int,
    instrument: str,
    store: Store,
    catalog: Catalog,
    provenance: Provenance,
    start_time: _dt.datetime,
    stop_time: _dt.datetime | None = None,
    run_id: str | None = None,
    mission: str = "M2020",
) -> PublishedProduct:
    """Publish a multispectral cube as NetCDF with its STAC item, then its catalog row.

    Parameters
    ----------
    ds : xarray.Dataset
        The cube (e.g. :func:`rovercam.radiometry.cube.build_cube`), at least one data variable.
    name : str
        Plain file name; files go to ``sol<sol:05d>/cubes/<name>/v<N>/``: ``<name>.nc``
        (asset ``data``, ``application/x-netcdf``) and ``<name>.stac.json``.
    sol : int
    instrument : str
        Instrument id (``"MCZ_LEFT"``).
    store, catalog
        Where files and the output row (kind ``"cube"``, lineage ``provenance.inputs``) go.
    provenance : Provenance
    start_time, stop_time : datetime
        Time span of the inputs (UTC if naive); the STAC ``datetime`` is ``start_time``.
    run_id : str, optional
        The catalog run that produced it.
    mission : str

    Returns
    -------
    PublishedProduct
        ``reused=True`` when the same bytes were already the latest version.

    Raises
    ------
    RovercamError
        Not a Dataset, no data variables, a bad name, or the cube cannot be written as NetCDF-3
        (e.g. 64-bit integers). Nothing is published.
    StorageError, CatalogError
        Writing failed; nothing partial is visible (:mod:`rovercam.publish.core`).

    Notes
    -----
    NetCDF goes through :func:`rovercam.radiometry.cube.write_cube`; with the scipy engine
    (NetCDF-3) the bytes depend on the content only (no timestamps), so re-publishing the same
    cube reuses its version.
    """
    import xarray as xr

    from rovercam.radiometry.cube import write_cube

    check_name(name)
    if not isinstance(ds, xr.Dataset) or not ds.data_vars or any(v.size == 0 for v in ds.data_vars.values()):
        raise RovercamError(f"{name}: a cube must be an xarray.Dataset with non-empty data variables")
    with tempfile.TemporaryDirectory(prefix="rovercam-cube-") as tmp:
        path = Path(tmp) / f"{name}.nc"
        try:
            write_cube(ds, path)
        except (ValueError, TypeError) as e:
            raise RovercamError(f"{name}: cannot write the cube as NetCDF: {e}") from e
        properties: dict[str, Any] = {
            "rovercam:dims": {str(k): int(v) for k, v in ds.sizes.items()},
            "rovercam:variables": sorted(str(v) for v in ds.data_vars),
        }
        if "band" in ds.coords:
            properties["rovercam:bands"] = [str(b) for b in ds["band"].values]
        if "wavelength_nm" in ds.coords:
            properties["rovercam:wavelength_nm"] = [float(w) for w in ds["wavelength_nm"].values]
        files = {"data": (path.name, path, ["data"], NETCDF_MEDIA_TYPE, "Multispectral cube (NetCDF)")}
        return publish_files(
            files, kind="cube", name=name, sol=sol, instrument=instrument, properties=properties,
            store=store, catalog=catalog, provenance=provenance, start_time=start_time,
            stop_time=stop_time, run_id=run_id, mission=mission,
        )
