"""Publishing: every output kind goes through one path.

:func:`~rovercam.publish.core.publish_output` publishes a named set of encoded files as the next
version of an output, atomically through the store, with its STAC item (built by
:func:`rovercam.catalog.stac.output_item`) and its catalog row (lineage, checksums, calibration
level, units). The kind modules only prepare the files and the kind's own properties:

- :mod:`.mosaic`: :func:`publish_mosaic` (COG + PNG preview + thumbnail; kind ``"mosaic"``);
- :mod:`.cube`: :func:`publish_cube` (NetCDF; kind ``"cube"``);
- :mod:`.sequence`: :func:`publish_sequence` (MP4 + thumbnail; kind ``"sequence"``);
- :mod:`.edl`: :func:`publish_ortho`, :func:`publish_contact_sheet`, :func:`publish_event` and
  the EDL steps :func:`descent_products`, :func:`sequence_products`;
- :mod:`.stereo`: :func:`publish_stereo` (a stereo pair's XYZ, range, normals and range
  uncertainty COGs and mesh; kind ``"stereo"``), :func:`publish_terrain` (a site and drive's
  DEM and mesh; kind ``"terrain"``);
- :func:`publish_files`: already-encoded files of any other kind.

:func:`audit_published` (:mod:`.audit`) lists anything partial or inconsistent that a reader of
the store or catalog could see; :func:`verify_catalog` (:mod:`.verify`, ``rovercam catalog
verify``) adds the other direction (every published version has its row) and the product rows.
Store keys and output ids come from :mod:`rovercam.layout`.
"""
from rovercam.publish.audit import audit_published
from rovercam.publish.core import (
    COG_MEDIA_TYPE,
    OutputFile,
    PublishedProduct,
    publish_files,
    publish_output,
)
from rovercam.publish.cube import NETCDF_MEDIA_TYPE, publish_cube
from rovercam.publish.edl import (
    GEOJSON_MEDIA_TYPE,
    descent_products,
    merged_provenance,
    publish_contact_sheet,
    publish_event,
    publish_ortho,
    sequence_products,
)
from rovercam.publish.mosaic import RADIANCE_UNIT, PublishedMosaic, publish_mosaic
from rovercam.publish.sequence import MP4_MEDIA_TYPE, publish_sequence
from rovercam.publish.stereo import GLTF_MEDIA_TYPE, PLY_MEDIA_TYPE, publish_stereo, publish_terrain
from rovercam.publish.verify import Problem, Verification, verify_catalog

__all__ = [
    "publish_output",
    "publish_files",
    "OutputFile",
    "PublishedProduct",
    "publish_mosaic",
    "PublishedMosaic",
    "RADIANCE_UNIT",
    "publish_cube",
    "publish_sequence",
    "publish_stereo",
    "publish_terrain",
    "publish_ortho",
    "publish_contact_sheet",
    "publish_event",
    "descent_products",
    "sequence_products",
    "merged_provenance",
    "audit_published",
    "verify_catalog",
    "Verification",
    "Problem",
    "NETCDF_MEDIA_TYPE",
    "MP4_MEDIA_TYPE",
    "GEOJSON_MEDIA_TYPE",
    "GLTF_MEDIA_TYPE",
    "PLY_MEDIA_TYPE",
    "COG_MEDIA_TYPE",
]
