"""The synthetic mission generator: a world with ground truth, cameras, a sensor, raw products.

Real raw products come without truth; the generator makes sols whose every pixel has one, so
each pipeline stage can be tested and measured.

- :func:`generate_sol` writes a sol folder: raw Mars 2020 Navcam ECM-like products (8-bit
  companded, Bayer-encoded, PDS3 attached labels with CAHVORE models), the calibration files the
  pipeline needs (inverse LUT, flats) and ``truth/`` (manifest and radiance panorama). One
  product is truncated on purpose and listed as expected-bad.
- :func:`load_truth` reads the truth back; ``truth.radiance(directions)`` and
  ``truth.radiance_grid(az, el)`` give the world radiance (W m^-2 sr^-1 nm^-1, linear-sRGB
  "world RGB") for any SITE_FRAME direction; ``truth.gray_radiance_grid(az, el)`` the one band
  a panchromatic camera sees (fixed world-RGB weights).
- The generator owns its cameras' calibration (:mod:`.cameras`, never the pipeline's settings)
  and writes one camera table per camera it used to ``calibration/cameras/<camera>.toml``
  (:mod:`.calibration`), beside the LUTs and flats.

Profiles: ``demo``, ``tiny`` and ``heritage-navcam`` (an MSL Navcam pan: 1024x1024 12-bit
monochrome EDRs with CAHVOR labels) keep the world *at infinity* (:mod:`.world`; no parallax, so
the truth panorama is exactly what a perfect mosaic shows from any mast position; the demo scores
its mosaics against it). ``navcam-pan``, ``mastcamz-pan``, ``edl`` and ``full`` render a terrain
with relief (:mod:`.terrain`) through every camera (:mod:`.cameras`, :mod:`.shots`,
:mod:`.mission`): Navcam, Front/Rear Hazcam, Mastcam-Z, the EDL cameras and LCAM, written as PDS3
attached (ODL3 + VICAR), PDS3 detached and PDS4 products, with per-frame truth, a panorama from
the mast, a DEM and orthoimage, bad-pixel maps and camera calibration files.
:func:`contact_sheet` draws a generated sol as one PNG.

``stereo`` renders stereo pairs over the near field (Navcam, Front and Rear Hazcam, Mastcam-Z at
one zoom; both eyes of a pair at one SCLK) with per-pixel 3-D truth: ``truth.stereo_pairs``,
``truth.frame_xyz(product_id)`` and ``truth.frame_range(product_id)``; ``stereo-full`` is one
full-size Navcam pair for throughput benchmarks. :func:`orthoimage` gives the truth orthoimage
and DEM of a terrain sol on any SITE_FRAME grid.

>>> import tempfile
>>> from rovercam.synth import generate_sol, load_truth
>>> with tempfile.TemporaryDirectory() as tmp:
...     manifest = generate_sol(tmp, profile="tiny", seed=1)
...     truth = load_truth(tmp)
...     len(manifest.frames), truth.radiance([[1.0, 0.0, 0.0]]).shape
(8, (1, 3))
"""
from rovercam.synth.contact import contact_sheet
from rovercam.synth.ortho import Orthoimage, load_terrain, orthoimage
from rovercam.synth.pointing import NavcamPair, Pointing, RoverPose, navcam_pair
from rovercam.synth.sensor import SensorSpec
from rovercam.synth.shots import STEREO_PAIR_NAMES, STEREO_PROFILES, TERRAIN_PROFILES
from rovercam.synth.sol import MAX_GENERATED_SOL, PROFILES, Profile, generate_sol
from rovercam.synth.terrain import Landmark, Terrain, TerrainParams, build_terrain
from rovercam.synth.truth import (
    ExpectedBad,
    FrameTruth,
    SolManifest,
    StereoPairTruth,
    Truth,
    load_truth,
)
from rovercam.synth.world import Fiducial, Panorama, WorldParams

__all__ = [
    "generate_sol",
    "load_truth",
    "contact_sheet",
    "TERRAIN_PROFILES",
    "STEREO_PROFILES",
    "STEREO_PAIR_NAMES",
    "orthoimage",
    "Orthoimage",
    "load_terrain",
    "StereoPairTruth",
    "TerrainParams",
    "Terrain",
    "Landmark",
    "build_terrain",
    "Truth",
    "SolManifest",
    "FrameTruth",
    "ExpectedBad",
    "Profile",
    "PROFILES",
    "MAX_GENERATED_SOL",
    "SensorSpec",
    "WorldParams",
    "Fiducial",
    "Panorama",
    "RoverPose",
    "Pointing",
    "NavcamPair",
    "navcam_pair",
]
