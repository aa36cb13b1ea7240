"""The EDL publishing steps, kept here for callers that import them from the EDL package; they
live in :mod:`rovercam.publish.edl` with the other output kinds."""
from rovercam.publish.edl import (
    descent_products,
    merged_provenance,
    publish_event,
    sequence_products,
)

__all__ = ["descent_products", "sequence_products", "publish_event", "merged_provenance"]
