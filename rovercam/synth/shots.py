"""Shot lists of the terrain profiles: which camera takes which frame, from where, how stored.

A :class:`Shot` is everything needed to render and write one product: the camera's *template*
model (its intrinsics at a reference pose, product pixels) plus the rigid motion ``(r, t)`` that
puts it at the shot's pose, the product grid (subframe, downsampling), the onboard processing
(CFA state, JPEG) and the label format. The true model is ``template.transformed(r, t)``.

Profiles (counts without the one truncated product):

- ``navcam-pan``: a 10-frame 360-degree Navcam pan per eye on the 1/4 demo detector (Bayer raw,
  like ``demo``), an sf2 stereo pair as 2x2 ECAM tiles of 1288x968 per eye (onboard-debayered
  JPEG q95), and a full-resolution Bayer subframe at an odd origin per eye: 30 products.
- ``mastcamz-pan``: a 102-frame Mastcam-Z left 360-degree mosaic, 3 tiers x 34 at 48 mm, L0
  (RGB Bayer) full frames of 1648x1200 with dark columns.
- ``edl``: the descent: 74 RDCAM frames from 10 km to touchdown, 16 LCAM frames (4200 -> 500 m),
  6 PUCAM frames of the parachute, 6 DDCAM frames of the rover on the bridle, 6 RUCAM frames of
  the descent stage: 108 products.
- ``full``: an 8-frame Navcam pan per eye, the tiles and subframes, Front/Rear Hazcam L/R,
  Mastcam-Z L0-L6 and R0-R6 at 34 mm, and the ``edl`` descent: 152 products.
- ``stereo``: four stereo pairs over the near field, each taken at one time (both eyes share
  the sequence id and the SCLK): Navcam L/R on the 1/4 demo detector (1280x960 Bayer raw,
  42.4 cm baseline) looking down ahead of the rover, Front Hazcam L/R and Rear Hazcam L/R at
  1/4 scale (1280x960 Bayer raw; 24.8 cm and 93.4 cm baselines), Mastcam-Z L0/R0 at 34 mm on
  both eyes (1648x1200 Bayer raw, 24.4 cm baseline): 8 products.
- ``stereo-full``: the ``stereo`` Navcam pair on the full 5120x3840 ECAM detector (Bayer raw,
  the real full frame), for throughput benchmarks: 2 products.

Shots of a stereo pair carry ``pair`` (the camera pair's name, :data:`STEREO_PAIR_NAMES`);
the two eyes of one pair share ``pair``, ``sequence`` and ``seconds``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from rovercam.synth.cameras import (
    MCZ_DARK_COLUMNS,
    MCZ_FILTERS,
    edl_model,
    hazcam_models,
    mastcamz_models,
    zoom_motor_count,
)
from rovercam.synth.pointing import NavcamPair, Pointing, mast_rotation, navcam_pair, rotation_about
from rovercam.synth.terrain import Solid

__all__ = ["Shot", "TERRAIN_PROFILES", "STEREO_PROFILES", "STEREO_PAIR_NAMES", "shot_list"]

LabelFormat = Literal["pds3", "pds3-detached", "pds4"]
TERRAIN_PROFILES = ("navcam-pan", "mastcamz-pan", "edl", "full", "stereo", "stereo-full")
#: Terrain profiles made of stereo pairs (near-field terrain, per-pixel XYZ truth by default).
STEREO_PROFILES = ("stereo", "stereo-full")
#: Camera pair names of the stereo shots (``Shot.pair``, the manifest's ``stereo_pairs``).
STEREO_PAIR_NAMES = ("navcam", "front_hazcam", "rear_hazcam", "mastcamz")
#: Mastcam-Z stereo baseline of the ``stereo`` profiles, metres: 24.4 cm (Bell et al. 2021,
#: Space Sci. Rev. 217:24). The older profiles keep the generator's 24.3 cm so that their
#: frames do not change.
_MCZ_STEREO_BASELINE_M = 0.244
#: Mast pointing (rover frame, left eye's detector centre) of the stereo Navcam and Mastcam-Z
#: pairs: ahead of the rover, down at the near field.
_NAVCAM_STEREO_POINTING = Pointing(0.0, -38.0)
_MCZ_STEREO_POINTING = Pointing(12.0, -30.0)
_IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


@dataclass(frozen=True, slots=True)
class Shot:
    """One product to render and write (see the module docstring).

    ``frame`` is the model's frame: ``ROVER_NAV_FRAME`` (rover and mast cameras) or
    ``SITE_FRAME`` (EDL cameras, whose pose is baked into the model). ``template_key`` names the
    template so that its pixel rays are computed once per worker. ``pair`` names the stereo
    pair the shot is an eye of (:data:`STEREO_PAIR_NAMES`), None outside a pair.
    """

    index: int
    instrument_id: str
    template_key: str
    template: Any
    r: tuple[tuple[float, float, float], ...]
    t: tuple[float, float, float]
    frame: str
    samples: int
    lines: int
    first_line: int = 1
    first_sample: int = 1
    downsample: int = 1
    cfa_state: Literal["encoded", "decoded", "none"] = "encoded"
    jpeg_quality: int | None = None
    filter_code: str = "M"
    filter_name: str | None = None
    focal_mm: float | None = None
    zoom_count: int | None = None
    sequence: str = "NCAM00530"
    camera_specific: str = "01_2"
    label_format: LabelFormat = "pds3"
    seconds: float = 0.0
    group: str = ""
    solids: tuple[Solid, ...] = ()
    dark_columns: tuple[int, int] = (0, 0)
    wavelength_nm: float | None = None
    altitude_m: float | None = None
    defects_grid: tuple[int, int] | None = None  # detector grid the bad pixels live on
    extra: dict[str, Any] = field(default_factory=dict)
    pair: str | None = None  # stereo pair name (STEREO_PAIR_NAMES); None outside a pair

    @property
    def true_model(self) -> Any:
        """The camera model of this shot, product pixels, in ``frame``."""
        return self.template.transformed(np.asarray(self.r), np.asarray(self.t))


def _mast_shots(pair: NavcamPair, pan: list[Pointing], *, eyes: tuple[str, ...], start: int,
                seconds0: float, sequence: str, camera_specific: str,
                template_key: str) -> list[Shot]:
    shots = []
    for k, target in enumerate(pan):
        r_head, t_head = mast_rotation(pair.pointing, target, bar_centre=pair.bar_centre)
        for eye in eyes:
            template = pair.left if eye == "NAVCAM_LEFT" else pair.right
            shots.append(Shot(
                index=start + len(shots), instrument_id=eye, template_key=f"{template_key}:{eye}",
                template=template, r=_tup(r_head), t=_vec(t_head), frame="ROVER_NAV_FRAME",
                samples=pair.samples, lines=pair.lines, sequence=sequence,
                camera_specific=camera_specific, seconds=seconds0 + 14.0 * k, group="navcam-pan",
                defects_grid=(pair.samples, pair.lines), extra={"pan_index": k}))
    return shots


def _tup(r: NDArray) -> tuple[tuple[float, float, float], ...]:
    return tuple(tuple(float(v) for v in row) for row in np.asarray(r))  # type: ignore[return-value]


def _vec(t: NDArray) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.asarray(t))  # type: ignore[return-value]


def _pan(count: int, elevation: float, start_az: float = 0.0) -> list[Pointing]:
    step = 360.0 / count
    return [Pointing(float((start_az + k * step + 180.0) % 360.0 - 180.0), elevation)
            for k in range(count)]


def _ecam_tiles(full: NavcamPair, target: Pointing, *, start: int, seconds: float) -> list[Shot]:
    """An sf2 stereo pair as 2x2 tiles of 1288x968 per eye, onboard-debayered JPEG q95."""
    r_head, t_head = mast_rotation(full.pointing, target, bar_centre=full.bar_centre)
    shots = []
    origins = ((1, 1), (1, 2545), (1905, 1), (1905, 2545))  # 1-based (line, sample), full res
    for eye in ("NAVCAM_LEFT", "NAVCAM_RIGHT"):
        base = full.left if eye == "NAVCAM_LEFT" else full.right
        for tile, (fl, fs) in enumerate(origins):
            # PIG's rule: shift the full-res model to the subframe, then scale by 1/2
            template = base.cropped(fs - 1, fl - 1).scaled(0.5, 0.5)
            shots.append(Shot(
                index=start + len(shots), instrument_id=eye,
                template_key=f"tile{tile}:{eye}", template=template, r=_tup(r_head),
                t=_vec(t_head), frame="ROVER_NAV_FRAME", samples=1288, lines=968,
                first_line=fl, first_sample=fs, downsample=2, cfa_state="decoded",
                jpeg_quality=95, filter_code="F", sequence="NCAM00531",
                camera_specific=f"{tile + 1:02d}_1", seconds=seconds, group="navcam-tiles",
                extra={"tile": tile}))
    return shots


def _subframes(full: NavcamPair, target: Pointing, *, start: int, seconds: float) -> list[Shot]:
    """A full-resolution Bayer subframe per eye at an odd 0-based origin (GBRG phase)."""
    r_head, t_head = mast_rotation(full.pointing, target, bar_centre=full.bar_centre)
    fl, fs, lines, samples = 954, 1275, 601, 801
    shots = []
    for eye in ("NAVCAM_LEFT", "NAVCAM_RIGHT"):
        base = full.left if eye == "NAVCAM_LEFT" else full.right
        shots.append(Shot(
            index=start + len(shots), instrument_id=eye, template_key=f"sub:{eye}",
            template=base.cropped(fs - 1, fl - 1), r=_tup(r_head), t=_vec(t_head),
            frame="ROVER_NAV_FRAME", samples=samples, lines=lines, first_line=fl,
            first_sample=fs, sequence="NCAM00532", camera_specific="01_0",
            label_format="pds3-detached", seconds=seconds, group="navcam-subframe",
            defects_grid=(5120, 3840)))
    return shots


def _hazcams(*, start: int, seconds: float, scale: float, stereo: bool = False) -> list[Shot]:
    """Front and Rear Hazcam L/R at ``scale``; ``stereo``: as pairs (one time per pair)."""
    models = hazcam_models()
    shots = []
    for iid, model in models.items():
        template = model.scaled(scale, scale)
        front = iid.startswith("FRONT")
        number = "00540" if stereo else "00100"
        shots.append(Shot(
            index=start + len(shots), instrument_id=iid,
            template_key=f"haz{scale}:{iid}" if stereo else f"haz:{iid}",
            template=template, r=_IDENTITY, t=(0.0, 0.0, 0.0), frame="ROVER_NAV_FRAME",
            samples=int(5120 * scale), lines=int(3840 * scale),
            sequence=("FHAZ" if front else "RHAZ") + number,
            camera_specific="01_2", label_format="pds3" if stereo else "pds3-detached",
            seconds=seconds + (0.0 if front or not stereo else 15.0),
            group="hazcam-stereo" if stereo else "hazcam",
            defects_grid=(int(5120 * scale), int(3840 * scale)),
            pair=("front_hazcam" if front else "rear_hazcam") if stereo else None))
    return shots


def _navcam_stereo(pair: NavcamPair, target: Pointing, *, start: int, seconds: float,
                   key: str, camera_specific: str) -> list[Shot]:
    """One Navcam stereo pair (Bayer raw on the pair's detector), both eyes at one time."""
    r_head, t_head = mast_rotation(pair.pointing, target, bar_centre=pair.bar_centre)
    shots = []
    for eye in ("NAVCAM_LEFT", "NAVCAM_RIGHT"):
        shots.append(Shot(
            index=start + len(shots), instrument_id=eye, template_key=f"{key}:{eye}",
            template=pair.left if eye == "NAVCAM_LEFT" else pair.right, r=_tup(r_head),
            t=_vec(t_head), frame="ROVER_NAV_FRAME", samples=pair.samples, lines=pair.lines,
            sequence="NCAM00540", camera_specific=camera_specific, seconds=seconds,
            group="navcam-stereo", defects_grid=(pair.samples, pair.lines), pair="navcam"))
    return shots


def _mastcamz(pair: NavcamPair, pointings: list[Pointing], *, focal_mm: float,
              filters: tuple[str, ...], start: int, seconds0: float, sequence: str,
              group: str, stereo_baseline_m: float | None = None) -> list[Shot]:
    """Mastcam-Z frames, ``filters`` per pointing, 9 s apart.

    ``stereo_baseline_m``: the frames of one pointing form a stereo pair at that baseline,
    taken at one time (``filters`` then one left and one right, e.g. ``("L0", "R0")``).
    """
    stereo = stereo_baseline_m is not None
    if stereo:
        models = mastcamz_models(pair, focal_mm, baseline_m=stereo_baseline_m)
    else:
        models = mastcamz_models(pair, focal_mm)
    count = zoom_motor_count(focal_mm)
    shots = []
    for k, target in enumerate(pointings):
        r_head, t_head = mast_rotation(pair.pointing, target, bar_centre=pair.bar_centre)
        for filt in filters:
            iid = "MCZ_LEFT" if filt.startswith("L") else "MCZ_RIGHT"
            seconds = seconds0 + 9.0 * (k if stereo else len(shots))
            key = f"mcz{focal_mm}:{stereo_baseline_m}:{iid}" if stereo else f"mcz{focal_mm}:{iid}"
            shots.append(Shot(
                index=start + len(shots), instrument_id=iid, template_key=key,
                template=models[iid], r=_tup(r_head), t=_vec(t_head), frame="ROVER_NAV_FRAME",
                samples=1648 - sum(MCZ_DARK_COLUMNS), lines=1200, filter_code=filt[1],
                filter_name=filt, focal_mm=focal_mm, zoom_count=count, sequence=sequence,
                camera_specific=f"{int(round(focal_mm * 10)):04d}",
                label_format="pds4" if group == "mcz-multispectral" else "pds3",
                seconds=seconds, group=group,
                dark_columns=MCZ_DARK_COLUMNS, wavelength_nm=MCZ_FILTERS[filt][0]
                if filt[1] != "0" else None, defects_grid=(1648, 1200),
                extra={"pan_index": k}, pair="mastcamz" if stereo else None))
    return shots


def _look(forward: NDArray, up_hint: NDArray) -> NDArray[np.float64]:
    """Rotation camera -> site whose z is ``forward`` and whose y (down) is against ``up_hint``."""
    z = forward / np.linalg.norm(forward)
    x = np.cross(up_hint, z)
    if np.linalg.norm(x) < 1e-6:
        x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.column_stack([x, y, z])


def _edl_shot(index: int, iid: str, r_site_cam: NDArray, c: NDArray, *, samples: int,
              lines: int, seconds: float, altitude: float, sequence: str, solids=(),
              cfa_state="decoded", jpeg=85, downsample: int = 2) -> Shot:
    template = edl_model(iid, np.eye(3), np.zeros(3), samples=samples, lines=lines)
    return Shot(index=index, instrument_id=iid, template_key=f"edl:{iid}:{samples}",
                template=template, r=_tup(r_site_cam), t=_vec(c), frame="SITE_FRAME",
                samples=samples, lines=lines, downsample=downsample, cfa_state=cfa_state,
                jpeg_quality=jpeg, filter_code="F" if cfa_state == "decoded" else "_",
                sequence=sequence, camera_specific="0000", seconds=seconds, group=iid,
                solids=tuple(solids), altitude_m=altitude)


def _edl(centre: tuple[float, float, float], *, start: int, rng: np.random.Generator,
         rdcam_frames: int = 74) -> list[Shot]:
    """The descent over the landing point ``centre`` (SITE_FRAME, on the ground)."""
    shots: list[Shot] = []
    ground = np.asarray(centre, np.float64)
    down = np.array([0.0, 0.0, 1.0])
    north = np.array([1.0, 0.0, 0.0])

    def drift(alt: float) -> NDArray:  # horizontal offset from the touchdown point, m
        return np.array([0.18 * alt, -0.11 * alt, 0.0]) * (alt / (alt + 800.0))

    def wobble(amplitude_deg: float) -> NDArray:
        r = np.eye(3)
        for axis in np.eye(3):
            r = rotation_about(axis, float(rng.normal(0.0, amplitude_deg))) @ r
        return r

    # RDCAM: rover belly, looking down, 10 km to touchdown (0.7 m)
    alts = np.geomspace(10000.0, 0.7, rdcam_frames)
    for k, alt in enumerate(alts):
        c = ground + drift(alt) - np.array([0.0, 0.0, alt])
        r = wobble(1.5 if alt > 50 else 0.4) @ _look(down, north)
        shots.append(_edl_shot(start + len(shots), "EDL_RDCAM", r, c, samples=640, lines=512,
                               seconds=float(k * 3.0), altitude=float(alt),
                               sequence="EDL_00001"))
    # LCAM: 1024^2 gray, 90 degrees, 4200 -> 500 m
    for k, alt in enumerate(np.geomspace(4200.0, 500.0, 16)):
        c = ground + drift(alt) - np.array([0.0, 0.0, alt])
        r = wobble(2.0) @ _look(down, north)
        shots.append(_edl_shot(start + len(shots), "LCAM", r, c, samples=1024, lines=1024,
                               seconds=float(60 + 4 * k), altitude=float(alt),
                               sequence="LVS_04000", cfa_state="none", jpeg=None,
                               downsample=1))
    up = np.array([0.0, 0.0, -1.0])
    # PUCAM: backshell, looking up at the parachute (radius 10.75 m, 40 m above)
    for k, alt in enumerate(np.linspace(11000.0, 3000.0, 6)):
        c = ground + drift(alt) - np.array([0.0, 0.0, alt])
        chute = Solid("sphere", tuple(c + np.array([0.0, 0.0, -40.0])), _IDENTITY,
                      (10.75, 0.0, 0.0), (0.11, 0.10, 0.095), stripes=16, hemisphere=True)
        r = wobble(4.0) @ _look(up, north)
        shots.append(_edl_shot(start + len(shots), "EDL_PUCAM1", r, c, samples=640, lines=512,
                               seconds=float(-200 + 20 * k), altitude=float(alt),
                               sequence="EDL_00002", solids=(chute,)))
    # DDCAM on the descent stage (7.5 m above the rover) and RUCAM on the rover, sky crane
    for k, alt in enumerate(np.linspace(21.0, 9.0, 6)):
        rover_c = ground + drift(alt) - np.array([0.0, 0.0, alt])
        stage_c = rover_c - np.array([0.0, 0.0, 7.5])
        rover = Solid("box", tuple(rover_c - np.array([0.0, 0.0, 0.6])), _IDENTITY,
                      (1.5, 1.35, 0.55), (0.085, 0.082, 0.078))
        stage = Solid("box", tuple(stage_c), _IDENTITY, (1.9, 1.9, 0.7), (0.035, 0.034, 0.033))
        shots.append(_edl_shot(start + len(shots), "EDL_DDCAM", wobble(1.0) @ _look(down, north),
                               stage_c + np.array([0.0, 0.0, 0.75]), samples=640, lines=512,
                               seconds=float(300 + 2 * k), altitude=float(alt + 7.5),
                               sequence="EDL_00003", solids=(rover,)))
        shots.append(_edl_shot(start + len(shots), "EDL_RUCAM", wobble(1.0) @ _look(up, north),
                               rover_c - np.array([0.0, 0.0, 1.25]), samples=640, lines=512,
                               seconds=float(300 + 2 * k), altitude=float(alt),
                               sequence="EDL_00004", solids=(stage,)))
    return shots


def shot_list(profile: str, *, seed: int, ground_site: tuple[float, float, float]) -> list[Shot]:
    """Every shot of a terrain profile, in product order (deterministic per seed)."""
    if profile not in TERRAIN_PROFILES:
        raise ValueError(f"terrain profile must be one of {TERRAIN_PROFILES}, got {profile!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2021]))
    demo = navcam_pair(0.25, 1280, 960)
    full = navcam_pair(1.0, 5120, 3840)
    shots: list[Shot] = []
    if profile in ("navcam-pan", "full"):
        n = 10 if profile == "navcam-pan" else 8
        shots += _mast_shots(demo, _pan(n, -14.0), eyes=("NAVCAM_LEFT", "NAVCAM_RIGHT"),
                             start=len(shots), seconds0=0.0, sequence="NCAM00530",
                             camera_specific="01_2", template_key="demo")
        target = Pointing(35.0, -22.0)
        shots += _ecam_tiles(full, target, start=len(shots), seconds=400.0)
        shots += _subframes(full, Pointing(-40.0, -18.0), start=len(shots), seconds=430.0)
    if profile == "full":
        shots += _hazcams(start=len(shots), seconds=460.0, scale=0.125)
        filters = tuple(f"L{i}" for i in range(7)) + tuple(f"R{i}" for i in range(7))
        shots += _mastcamz(demo, [Pointing(20.0, -25.0)], focal_mm=34.0, filters=filters,
                           start=len(shots), seconds0=500.0, sequence="ZCAM08001",
                           group="mcz-multispectral")
    if profile == "mastcamz-pan":
        pointings = [Pointing(float((k * 360.0 / 34 + 180.0) % 360.0 - 180.0), el)
                     for el in (-14.5, -6.0, 2.5) for k in range(34)]
        shots += _mastcamz(demo, pointings, focal_mm=48.0, filters=("L0",), start=0,
                           seconds0=0.0, sequence="ZCAM08000", group="mcz-pan")
    if profile in ("edl", "full"):
        edl = _edl(ground_site, start=len(shots), rng=rng)
        shots += [replace(s, index=len(shots) + i) for i, s in enumerate(edl)]
    if profile == "stereo":
        shots += _navcam_stereo(demo, _NAVCAM_STEREO_POINTING, start=0, seconds=0.0,
                                key="stereo-demo", camera_specific="01_2")
        shots += _hazcams(start=len(shots), seconds=30.0, scale=0.25, stereo=True)
        shots += _mastcamz(demo, [_MCZ_STEREO_POINTING], focal_mm=34.0, filters=("L0", "R0"),
                           start=len(shots), seconds0=60.0, sequence="ZCAM08540",
                           group="mcz-stereo", stereo_baseline_m=_MCZ_STEREO_BASELINE_M)
    if profile == "stereo-full":
        shots += _navcam_stereo(full, _NAVCAM_STEREO_POINTING, start=0, seconds=0.0,
                                key="stereo-full", camera_specific="01_0")
    return [replace(s, index=i) for i, s in enumerate(shots)]
