"""The catalog browser and panorama viewer (``rovercam view``, ``rovercam export-site``).

A read-only web app over the catalog and storage: browse outputs by sol, camera and kind, a
product page with metadata and lineage, and a WebGL viewer that renders panoramas in six
projections (rectilinear, fisheye, architectural, stereographic, little planet, Panini), flat
images in a deep-zoom view, and left/right pairs as anaglyphs; the stereo and terrain outputs'
range, XYZ, normals and heights in false colour with a legend (:mod:`rovercam.viewer.fields`)
and their meshes in a 3-D view. Pixels come from tile pyramids
made from the published COGs (:mod:`rovercam.viewer.pyramid`), on demand by the server or all
at once for a static site. The server also streams the cataloged files by byte range
(:mod:`rovercam.viewer.ranges`, for GDAL's ``/vsicurl/``) and answers the stored value under
the viewer's cursor. See docs/viewer.md.
"""
from rovercam.viewer.library import Library
from rovercam.viewer.pyramid import TILE_SIZE, TileGrid, TileSource, encode_tile
from rovercam.viewer.server import create_app, running_server, serve
from rovercam.viewer.site import SiteExport, export_site

__all__ = [
    "Library",
    "TileGrid",
    "TileSource",
    "TILE_SIZE",
    "encode_tile",
    "create_app",
    "serve",
    "running_server",
    "export_site",
    "SiteExport",
]
