"""rovercam: Mars rover camera and EDL imagery, from raw PDS products to cataloged mosaics.

The science library. Pure Python over numpy and OpenCV; it never imports Prefect, so every
algorithm runs as a plain function (in a notebook, a test, or a Prefect task in ``tasks/``).
"""
import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
