"""Product reading and writing: PDS3/ODL and VICAR labels, pixels, ids, the Product model.

``read_product(path)`` reads any supported product (PDS3/ODL attached or detached, VICAR, PDS4
XML, raw-image-site PNG/JPEG + JSON) into a :class:`Product`; ``summarize`` gives its JSON-ready
summary; ``write_pds3`` (attached or detached) and ``write_pds4`` write one back;
``parse_product_id`` / ``format_m2020_id`` handle product names; :mod:`rovercam.products.odl` is
the fast ODL parser (``loads``/``dumps``).
"""
from rovercam.products import odl
from rovercam.products.model import (
    CFA,
    BayerPattern,
    CFAState,
    Companding,
    CoordinateSystem,
    ImageStats,
    Product,
    ProductMeta,
    Subframe,
)
from rovercam.products.naming import ProductId, format_m2020_id, parse_product_id
from rovercam.products.pds3 import write_pds3
from rovercam.products.pds4_writer import write_pds4
from rovercam.products.raster import Limits
from rovercam.products.reader import read_product
from rovercam.products.summary import summarize

__all__ = [
    "read_product",
    "summarize",
    "write_pds3",
    "write_pds4",
    "Limits",
    "parse_product_id",
    "format_m2020_id",
    "ProductId",
    "Product",
    "ProductMeta",
    "CoordinateSystem",
    "Companding",
    "CFA",
    "Subframe",
    "ImageStats",
    "CFAState",
    "BayerPattern",
    "odl",
]
