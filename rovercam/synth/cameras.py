"""The synthetic cameras: geometry templates and sensor parameters.

Every value here is the generator's own, made up for synthetic data (orders of magnitude right,
not a team calibration); the generator never reads camera values from the pipeline's
configuration. It writes the cameras it used beside each sol as camera tables
(:mod:`rovercam.synth.calibration`), which the pipeline finds on its calibration search path.

Geometry conventions as :mod:`rovercam.synth.pointing` (ROVER_NAV_FRAME +x forward, +y right,
+z down; pixels (x=sample, y=line), 0-based, centres at integers). Templates, all full-resolution
detector models in ROVER_NAV_FRAME at the mast's template pointing (mast cameras) or at their
fixed mount (body cameras):

- Navcam L/R: the real sol-670 Navcam-left CAHVORE (:data:`~rovercam.synth.pointing.NAVCAM_LEFT_SOL670`)
  and its synthetic right eye (:func:`~rovercam.synth.pointing.navcam_pair`).
- Front/Rear Hazcam L/R: the real MSL Front Hazcam left-B CAHVORE (label of FLB_431397159EDR, sol
  382, mtype 3, mparm 0.37) rescaled to the Mars 2020 ECAM detector (5120x3840, 0.46 mrad/px at the
  centre, docs/cameras.md) with the principal point at the detector centre; right eyes at the
  24.8 cm (front) / 93.4 cm (rear) baselines; the rear pair yawed by 180 degrees.
- Mastcam-Z L/R: CAHVOR on the 1648x1200 frame (7.4 um pixels, 23 + 1608 + 17 columns with the
  optical centre in the active area), focal length from the zoom motor count
  (docs/cameras.md#mastcam-z table, linear between stops), 24.3 cm baseline (the ``stereo``
  profiles: the published 24.4 cm), 1.17 degree toe-in per eye, mounted on the mast head beside
  the Navcams so that it moves with the same mast rotation.
- EDL cameras (RDCAM, DDCAM, RUCAM, PUCAM, LCAM): CAHVOR pinholes with a mild barrel term,
  built per frame in SITE_FRAME from a pose (:func:`edl_model`).
- MSL Navcam L/R (B string, the ``heritage-navcam`` profile): a CAHVOR model of the 1024x1024
  CCD with f = 14.67 mm over 12 um pixels (0.82 mrad/px, 45 degree field; Maki et al. 2012,
  Space Sci. Rev. 170, 77-93), principal point a few pixels off centre, optical axis O 0.2
  degree off A and a small radial term of the size real MSL Navcam labels carry
  (:func:`msl_navcam_left_model`); the right eye comes from
  :func:`~rovercam.synth.pointing.navcam_pair` (the same 42.4 cm baseline).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from rovercam.camera import CAHVOR, CAHVORE
from rovercam.synth.pointing import NavcamPair, rotation_about
from rovercam.synth.sensor import SensorSpec

__all__ = [
    "CameraSpec", "CAMERAS", "HAZCAM_TEMPLATE_FLB", "hazcam_models", "mastcamz_models",
    "zoom_focal_length_mm", "edl_model", "MCZ_FILTERS", "MCZ_DARK_COLUMNS", "sensor_spec",
    "XYZ_FROM_CAMERA", "CROSSTALK", "MSL_NAVCAM_PANCHROMATIC", "msl_navcam_left_model",
]

#: Spectral crosstalk of every synthetic colour camera, ``camera_rgb = CROSSTALK @ world_rgb``
#: (synthetic: a plausible Bayer-dye overlap, not a measured one).
CROSSTALK = ((0.86, 0.11, 0.03), (0.09, 0.82, 0.09), (0.02, 0.14, 0.84))
#: Camera RGB -> CIE XYZ (D65) that undoes :data:`CROSSTALK`:
#: ``XYZ_FROM_SRGB @ inv(CROSSTALK)``, rounded to 6 decimals. These rounded numbers are what the
#: sensor inverts (``camera_from_world = inv(SRGB_FROM_XYZ @ XYZ_FROM_CAMERA)``) and what the
#: camera tables carry, so the pipeline's colour path recovers the world RGB exactly. They equal
#: the values config/cameras/navcam_*.toml held before the generator owned its calibration, so
#: frames generated before and after are bit-identical.
XYZ_FROM_CAMERA = ((0.439191, 0.349567, 0.161742), (0.158214, 0.852862, -0.011076),
                   (0.001119, -0.048862, 1.136743))
#: World-RGB weights of the MSL Navcam's one band (sum 1). The Navcam filter passes about
#: 600-800 nm (Maki et al. 2012); of the world-RGB primaries (about 630, 544 and 480 nm) that
#: is mostly red with some green. Synthetic: ``L_gray = w @ L_world``; the truth's gray radiance
#: (:meth:`rovercam.synth.Truth.gray_radiance_grid`) applies the same weights.
MSL_NAVCAM_PANCHROMATIC = (0.75, 0.22, 0.03)

#: The real MSL Front Hazcam left (B) model of FLB_431397159EDR_F0141262FHAZ00323M1 (1024x1024).
HAZCAM_TEMPLATE_FLB: dict[str, object] = {
    "c": (1.03304, -0.17145, -0.707908), "a": (0.706662, 0.00032, 0.707551),
    "h": (356.718, 453.901, 352.1), "v": (43.3011, 3.70251, 685.544),
    "o": (0.704793, -0.000541, 0.709413), "r": (8.0e-06, -0.013391, -0.007308),
    "e": (0.001868, 0.001572, 0.001665), "mtype": 3, "mparm": 0.37,
}
_HAZCAM_IFOV_RAD = 0.46e-3
_FRONT_BASELINE_M = 0.248
_REAR_BASELINE_M = 0.934
#: Mastcam-Z zoom stops: focal length (mm) <-> motor count (docs/cameras.md#mastcam-z).
_ZOOM_STOPS = ((0, 26.0), (2448, 34.0), (3834, 48.0), (5196, 63.0), (6720, 79.0),
               (8652, 100.0), (9600, 110.0))
_MCZ_PIXEL_MM = 7.4e-3
_MCZ_BASELINE_M = 0.243
_MCZ_TOE_IN_DEG = 1.17
#: Dark columns of a 1648-wide Mastcam-Z row: 23 on the left, 17 on the right
#: (docs/cameras.md#mastcam-z).
MCZ_DARK_COLUMNS = (23, 17)
#: Mastcam-Z filters: name -> (centre wavelength nm, half width nm); L0/R0 are the RGB Bayer.
MCZ_FILTERS: dict[str, tuple[float, float]] = {
    "L0": (544.0, 41.0), "L1": (800.0, 9.0), "L2": (754.0, 10.0), "L3": (677.0, 11.0),
    "L4": (605.0, 9.0), "L5": (528.0, 11.0), "L6": (442.0, 12.0),
    "R0": (544.0, 42.0), "R1": (800.0, 9.0), "R2": (866.0, 10.0), "R3": (910.0, 12.0),
    "R4": (939.0, 12.0), "R5": (978.0, 10.0), "R6": (1022.0, 19.0),
}


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """Static description of one synthetic camera.

    Parameters
    ----------
    instrument_id, code : str
        ``"MCZ_LEFT"``, ``"ZL"``.
    samples, lines : int
        Full-resolution detector size.
    cfa : str or None
        Bayer pattern at the detector origin, None for a monochrome sensor.
    bits : int
        ADC depth (12 for ECAM, 11 for Mastcam-Z, 10 for the commercial EDL cameras, 8 LCAM).
    lut_prefix, lut_mode : str
        Inverse-LUT file ``<prefix><mode>.txt`` and the label's SAMPLE_BIT_MODE_ID; mode
        ``"NONE"`` writes uncompanded DN.
    bias_dn, read_noise_dn, gain_e_per_dn, dark_dn_per_s : float
        Sensor noise model.
    responsivity : (3,) float
        DN s^-1 per W m^-2 sr^-1 nm^-1 at full aperture, per Bayer colour.
    hot_fraction, dead_fraction : float
        Fraction of hot (dark current x 50..400) and dead (zero response) pixels.
    vignetting : (float, float)
        Flat ``1 - a r^2 - b r^4`` (r = 1 at the corner).
    temperature_c : float
        INSTRUMENT_TEMPERATURE of the labels.
    mission, name : str
        ``"M2020"``/``"MSL"`` and a readable name, for the camera table.
    xyz_from_camera : (3, 3) float or None
        Camera RGB -> XYZ (colour cameras); None with ``panchromatic``.
    panchromatic : (3,) float or None
        World-RGB weights of a monochrome camera's one band (sum 1).
    display_white_radiance : float
        Radiance (W m^-2 sr^-1 nm^-1) shown as white.
    stereo_partner : str or None
        INSTRUMENT_ID of the other eye.
    """

    instrument_id: str
    code: str
    samples: int
    lines: int
    cfa: str | None
    bits: int
    lut_prefix: str
    lut_mode: str
    bias_dn: float
    read_noise_dn: float
    gain_e_per_dn: float
    dark_dn_per_s: float
    responsivity: tuple[float, float, float]
    hot_fraction: float = 2e-5
    dead_fraction: float = 1e-5
    vignetting: tuple[float, float] = (0.30, 0.08)
    temperature_c: float = -21.5
    mission: str = "M2020"
    name: str = ""
    xyz_from_camera: tuple[tuple[float, float, float], ...] | None = XYZ_FROM_CAMERA
    panchromatic: tuple[float, float, float] | None = None
    display_white_radiance: float = 0.08
    stereo_partner: str | None = None

    @property
    def dn_max(self) -> int:
        """Largest DN of the ADC."""
        return 2**self.bits - 1


def _ecam(iid: str, code: str, bias: float, resp: tuple[float, float, float], name: str,
          partner: str) -> CameraSpec:
    return CameraSpec(iid, code, 5120, 3840, "RGGB", 12, "M20_", "LUT2", bias, 1.5, 6.0, 3.0,
                      resp, name=name, stereo_partner=partner)


def _edl(iid: str, code: str, name: str) -> CameraSpec:
    return CameraSpec(iid, code, 1280, 1024, "RGGB", 10, "M20_EDL_", "LUT1", 16.0, 1.5, 4.0, 2.0,
                      (6.0e5, 7.0e5, 5.0e5), vignetting=(0.35, 0.1), name=name)


def _mcz(iid: str, code: str, name: str, partner: str) -> CameraSpec:
    # bias, responsivity, noise and display white as config/cameras/mastcamz_*.toml held them
    return CameraSpec(iid, code, 1648, 1200, "RGGB", 11, "M20_MCZ_", "LUT0", 14.0, 0.8, 10.0,
                      1.5, (5.2e4, 6.1e4, 4.4e4), vignetting=(0.12, 0.03), name=name,
                      stereo_partner=partner)


def _msl_navcam(iid: str, code: str, resp: float, name: str, partner: str) -> CameraSpec:
    # 12-bit DN in 16-bit words, no companding (SAMPLE_BIT_METHOD NONE), no CFA; noise of the
    # size the MSL engineering-camera CCDs show (synthetic)
    return CameraSpec(iid, code, 1024, 1024, None, 12, "", "NONE", 0.0, 2.0, 15.0, 1.0,
                      (resp, resp, resp), vignetting=(0.15, 0.05), temperature_c=-15.0,
                      mission="MSL", name=name, xyz_from_camera=None,
                      panchromatic=MSL_NAVCAM_PANCHROMATIC, display_white_radiance=0.08,
                      stereo_partner=partner)


#: Every synthetic camera by INSTRUMENT_ID (synthetic values throughout). ECAM biases are the
#: mars-raw-utils values (docs/cameras.md); the Navcam and Mastcam-Z sensor values are the ones
#: the generator has always used (they were once, wrongly, the shipped camera configuration).
CAMERAS: dict[str, CameraSpec] = {
    "NAVCAM_LEFT": _ecam("NAVCAM_LEFT", "NL", 133.0, (4.6e6, 5.4e6, 3.9e6), "Navcam left",
                         "NAVCAM_RIGHT"),
    "NAVCAM_RIGHT": _ecam("NAVCAM_RIGHT", "NR", 132.0, (4.5e6, 5.3e6, 3.95e6), "Navcam right",
                          "NAVCAM_LEFT"),
    "FRONT_HAZCAM_LEFT_A": _ecam("FRONT_HAZCAM_LEFT_A", "FL", 151.0, (2.3e6, 2.7e6, 1.95e6),
                                 "Front Hazcam left (A)", "FRONT_HAZCAM_RIGHT_A"),
    "FRONT_HAZCAM_RIGHT_A": _ecam("FRONT_HAZCAM_RIGHT_A", "FR", 148.0, (2.3e6, 2.7e6, 1.95e6),
                                  "Front Hazcam right (A)", "FRONT_HAZCAM_LEFT_A"),
    "REAR_HAZCAM_LEFT": _ecam("REAR_HAZCAM_LEFT", "RL", 118.0, (2.3e6, 2.7e6, 1.95e6),
                              "Rear Hazcam left", "REAR_HAZCAM_RIGHT"),
    "REAR_HAZCAM_RIGHT": _ecam("REAR_HAZCAM_RIGHT", "RR", 132.0, (2.3e6, 2.7e6, 1.95e6),
                               "Rear Hazcam right", "REAR_HAZCAM_LEFT"),
    "MCZ_LEFT": _mcz("MCZ_LEFT", "ZL", "Mastcam-Z left", "MCZ_RIGHT"),
    "MCZ_RIGHT": _mcz("MCZ_RIGHT", "ZR", "Mastcam-Z right", "MCZ_LEFT"),
    "EDL_RDCAM": _edl("EDL_RDCAM", "ES", "EDL rover downlook camera"),
    "EDL_DDCAM": _edl("EDL_DDCAM", "ED", "EDL descent-stage downlook camera"),
    "EDL_RUCAM": _edl("EDL_RUCAM", "EU", "EDL rover uplook camera"),
    "EDL_PUCAM1": _edl("EDL_PUCAM1", "EA", "EDL parachute uplook camera 1"),
    "LCAM": CameraSpec("LCAM", "EL", 1024, 1024, None, 8, "", "NONE", 4.0, 0.8, 20.0, 1.0,
                       (9.0e4, 9.0e4, 9.0e4), vignetting=(0.2, 0.05),
                       name="Lander Vision System camera"),
    "NAV_LEFT_B": _msl_navcam("NAV_LEFT_B", "NL", 9.0e4, "MSL Navcam left (B)", "NAV_RIGHT_B"),
    "NAV_RIGHT_B": _msl_navcam("NAV_RIGHT_B", "NR", 8.85e4, "MSL Navcam right (B)",
                               "NAV_LEFT_B"),
}


def sensor_spec(iid: str) -> SensorSpec:
    """The sensor model of a synthetic camera (KeyError naming the known ones when absent).

    The flat file is ``flats/<INSTRUMENT_ID>_flat.tif`` under the sol's ``calibration/``.
    """
    try:
        cam = CAMERAS[iid]
    except KeyError:
        raise KeyError(f"no synthetic camera {iid!r} (known: {', '.join(sorted(CAMERAS))})") \
            from None
    return SensorSpec(
        instrument_id=cam.instrument_id, code=cam.code, detector_samples=cam.samples,
        detector_lines=cam.lines, cfa_pattern=cam.cfa, lut_prefix=cam.lut_prefix,
        bias_dn=cam.bias_dn, responsivity=cam.responsivity, xyz_from_camera=cam.xyz_from_camera,
        flat=f"flats/{cam.instrument_id}_flat.tif", read_noise_dn=cam.read_noise_dn,
        gain_e_per_dn=cam.gain_e_per_dn, dn_max=cam.dn_max, vignetting=cam.vignetting,
        temperature_c=cam.temperature_c, lut_mode=cam.lut_mode, panchromatic=cam.panchromatic)


#: Horizontal field of view (deg) of the EDL cameras' synthetic pinholes ([U] for all but LCAM).
EDL_HFOV_DEG = {"EDL_RDCAM": 62.0, "EDL_DDCAM": 62.0, "EDL_RUCAM": 62.0, "EDL_PUCAM1": 62.0,
                "LCAM": 90.0}


def _right_axis(model: CAHVORE | CAHVOR) -> NDArray[np.float64]:
    internal = model.internal()
    return (model.h - internal.hc * model.a) / internal.hs


def hazcam_models() -> dict[str, CAHVORE]:
    """Full-resolution Front/Rear Hazcam L/R models, ROVER_NAV_FRAME (5120x3840)."""
    flb = CAHVORE(**HAZCAM_TEMPLATE_FLB)  # type: ignore[arg-type]
    internal = flb.internal()
    s = 1.0 / (_HAZCAM_IFOV_RAD * internal.hs)
    scaled = flb.scaled(s, s)
    sc = scaled.internal()
    left = scaled.cropped(sc.hc - 2559.5, sc.vc - 1919.5)
    right_axis = _right_axis(left)
    right = left.transformed(np.eye(3), _FRONT_BASELINE_M * right_axis)
    # rear pair: yawed 180 degrees, moved to the back of the rover; its left eye is on +y
    yaw = rotation_about(np.array([0.0, 0.0, 1.0]), 180.0)
    rear_left_c = np.array([-0.78, _REAR_BASELINE_M / 2.0, -0.78])
    rear_left = left.transformed(yaw, np.zeros(3))
    rear_left = rear_left.transformed(np.eye(3), rear_left_c - rear_left.c)
    rear_right = rear_left.transformed(np.eye(3), _REAR_BASELINE_M * _right_axis(rear_left))
    return {"FRONT_HAZCAM_LEFT_A": left, "FRONT_HAZCAM_RIGHT_A": right,
            "REAR_HAZCAM_LEFT": rear_left, "REAR_HAZCAM_RIGHT": rear_right}


def zoom_focal_length_mm(motor_count: int) -> float:
    """Mastcam-Z focal length (mm) at a zoom motor count (linear between the table stops)."""
    counts, focal = zip(*_ZOOM_STOPS)
    if not counts[0] <= motor_count <= counts[-1]:
        raise ValueError(f"zoom motor count must be in {counts[0]}..{counts[-1]}, got {motor_count}")
    return float(np.interp(motor_count, counts, focal))


def zoom_motor_count(focal_mm: float) -> int:
    """Inverse of :func:`zoom_focal_length_mm`, rounded to a motor step."""
    counts, focal = zip(*_ZOOM_STOPS)
    return int(round(float(np.interp(focal_mm, focal, counts))))


def mastcamz_models(pair: NavcamPair, focal_mm: float, *,
                    baseline_m: float = _MCZ_BASELINE_M) -> dict[str, CAHVOR]:
    """Full-frame Mastcam-Z L/R CAHVOR models at the Navcam template pointing, ROVER_NAV_FRAME.

    The optical centre sits at the centre of the 1608 active columns; the eyes are
    ``baseline_m / 2`` (default 12.15 cm) either side of the Navcam bar centre, 6 cm above it,
    toed in by 1.17 degrees. The ``stereo`` profiles pass the published 24.4 cm.
    """
    hs = focal_mm / _MCZ_PIXEL_MM
    hc = MCZ_DARK_COLUMNS[0] + (1648 - sum(MCZ_DARK_COLUMNS) - 1) / 2.0
    vc = (1200 - 1) / 2.0
    fwd = pair.left.a
    right = _right_axis(pair.left)
    down = np.cross(fwd, right)
    out: dict[str, CAHVOR] = {}
    for iid, sign in (("MCZ_LEFT", -1.0), ("MCZ_RIGHT", 1.0)):
        toe = rotation_about(down, -sign * _MCZ_TOE_IN_DEG)  # left eye turns right, right left
        a = toe @ fwd
        x_cam = toe @ right
        y_cam = toe @ down
        c = pair.bar_centre + sign * (baseline_m / 2.0) * right - 0.06 * down
        out[iid] = CAHVOR(c=c, a=a, h=hs * x_cam + hc * a, v=hs * y_cam + vc * a, o=a,
                          r=(0.0, -2.0e-4 * (26.0 / focal_mm) ** 2, 0.0))
    return out


def edl_model(iid: str, r_site_cam: NDArray[np.float64], c_site: NDArray[np.float64], *,
              samples: int, lines: int) -> CAHVOR:
    """A CAHVOR model of an EDL camera in SITE_FRAME, product pixels.

    ``r_site_cam`` maps camera axes (x right, y down, z boresight) to SITE_FRAME.
    """
    hfov = np.radians(EDL_HFOV_DEG[iid])
    hs = (samples / 2.0) / np.tan(hfov / 2.0)
    hc, vc = (samples - 1) / 2.0, (lines - 1) / 2.0
    x_cam, y_cam, a = r_site_cam[:, 0], r_site_cam[:, 1], r_site_cam[:, 2]
    return CAHVOR(c=np.asarray(c_site, np.float64), a=a, h=hs * x_cam + hc * a,
                  v=hs * y_cam + vc * a, o=a, r=(0.0, -0.02, 0.0))


#: MSL Navcam optics: f = 14.67 mm over 12 um pixels (Maki et al. 2012) -> 1222.5 px, i.e.
#: 0.818 mrad/px at the centre and a 45.4 degree field over 1024 px.
_MSL_NAVCAM_HS = 14.67 / 12.0e-3
#: Principal point offset from the detector centre (px) and O's tilt from A (deg): small, as in
#: real MSL Navcam models (synthetic values).
_MSL_NAVCAM_PP_OFFSET = (2.1, -3.4)
_MSL_NAVCAM_O_TILT_DEG = (0.12, -0.16)
#: Radial terms R0, R1, R2: the size real MSL Navcam CAHVOR labels carry (for instance
#: NRB_701384494RAD_F0933408NCAM00200M1 gives R = (1.34e-05, 0.00184, -0.0058)); synthetic.
_MSL_NAVCAM_R = (1.3e-05, 1.8e-03, -5.6e-03)
#: Left-eye centre in ROVER_NAV_FRAME at the template pointing (m): on the mast head ~1.9 m
#: above the rover origin, front right of the deck (synthetic, MSL-like).
_MSL_NAVCAM_LEFT_C = (0.94, 0.32, -1.88)
_MSL_NAVCAM_TEMPLATE_EL_DEG = -30.0


def msl_navcam_left_model() -> CAHVOR:
    """The synthetic MSL Navcam left (B) CAHVOR, full-resolution 1024x1024, ROVER_NAV_FRAME.

    Template pointing: azimuth 0 (rover +x), elevation -30 degrees. Pixels (x=sample, y=line),
    0-based, centres at integers; the principal point is ``(511.5, 511.5)`` plus
    ``_MSL_NAVCAM_PP_OFFSET``.
    """
    el = np.radians(_MSL_NAVCAM_TEMPLATE_EL_DEG)
    a = np.array([np.cos(el), 0.0, -np.sin(el)])  # +z down: looking down is +z
    right = np.array([0.0, 1.0, 0.0])
    down = np.cross(a, right)
    hc = 511.5 + _MSL_NAVCAM_PP_OFFSET[0]
    vc = 511.5 + _MSL_NAVCAM_PP_OFFSET[1]
    o = rotation_about(right, _MSL_NAVCAM_O_TILT_DEG[1]) @ rotation_about(
        down, _MSL_NAVCAM_O_TILT_DEG[0]) @ a
    return CAHVOR(c=np.asarray(_MSL_NAVCAM_LEFT_C, np.float64), a=a,
                  h=_MSL_NAVCAM_HS * right + hc * a, v=_MSL_NAVCAM_HS * down + vc * a, o=o,
                  r=_MSL_NAVCAM_R)
