"""The synthetic mission generator: a world with ground truth, cameras, a sensor, raw products.

Real raw products come without truth; the generator makes sols whose every pixel has one, so
each pipeline stage can be tested and measured.

- :func:`generate_sol` writes a sol folder: raw Mars 2020 Navcam ECM-like products (8-bit
  companded, Bayer-encoded, PDS3 attached labels with CAHVORE models), the calibration files the
  pipeline needs (inverse LUT, flats) and ``truth/`` (manifest and radiance panorama). One
  product is truncated on purpose and listed as expected-bad.
- :func:`load_truth` reads the truth back; ``truth.radiance(directions)`` and
  ``truth.radiance_grid(az, el)`` give the world radiance (W m^-2 sr^-1 nm^-1, linear-sRGB
  "world RGB") for any SITE_FRAME direction.

The world of this version is at infinity (no parallax): any camera centre sees the same
panorama. Terrain with relief, more cameras, EDL and PDS4 labels come later (issue 5).

>>> import tempfile
>>> from rovercam.synth import generate_sol, load_truth
>>> with tempfile.TemporaryDirectory() as tmp:
...     manifest = generate_sol(tmp, profile="tiny", seed=1)
...     truth = load_truth(tmp)
...     len(manifest.frames), truth.radiance([[1.0, 0.0, 0.0]]).shape
(8, (1, 3))
"""
from rovercam.synth.pointing import NavcamPair, Pointing, RoverPose, navcam_pair
from rovercam.synth.sensor import SensorSpec
from rovercam.synth.sol import PROFILES, Profile, generate_sol
from rovercam.synth.truth import ExpectedBad, FrameTruth, SolManifest, Truth, load_truth
from rovercam.synth.world import Fiducial, Panorama, WorldParams

__all__ = [
    "generate_sol",
    "load_truth",
    "Truth",
    "SolManifest",
    "FrameTruth",
    "ExpectedBad",
    "Profile",
    "PROFILES",
    "SensorSpec",
    "WorldParams",
    "Fiducial",
    "Panorama",
    "RoverPose",
    "Pointing",
    "NavcamPair",
    "navcam_pair",
]
