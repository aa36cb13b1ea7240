"""Product reading and writing: PDS3/ODL and VICAR labels, pixels, ids, the Product model.

``read_product(path)`` reads any supported product into a :class:`Product`; ``write_pds3`` writes
one back as an attached-label PDS3 file; ``parse_product_id`` / ``format_m2020_id`` handle product
names; :mod:`rovercam.products.odl` is the fast ODL parser (``loads``/``dumps``).
"""
from rovercam.products import odl
from rovercam.products.model import (
    CFA,
    BayerPattern,
    CFAState,
    Companding,
    FrameDefinition,
    ImageStats,
    Product,
    Subframe,
)
from rovercam.products.naming import ProductId, format_m2020_id, parse_product_id
from rovercam.products.pds3 import write_pds3
from rovercam.products.raster import Limits
from rovercam.products.reader import read_product
from rovercam.products.summary import summarize

__all__ = [
    "read_product",
    "summarize",
    "write_pds3",
    "Limits",
    "parse_product_id",
    "format_m2020_id",
    "ProductId",
    "Product",
    "FrameDefinition",
    "Companding",
    "CFA",
    "Subframe",
    "ImageStats",
    "CFAState",
    "BayerPattern",
    "odl",
]
