"""The camera registry: one record per camera, keyed by mission and INSTRUMENT_ID.

The shipped registry is ``config/cameras/<mission>.toml``: a ``mission = "..."`` line and one
table per camera, ``[NAVCAM_LEFT]``, with the keys of :class:`CameraSettings`
(docs/cameras.md lists every camera with its sources). Calibration folders may carry camera
tables too, ``<folder>/cameras/*.toml``, either in that per-mission form or one camera per file
with ``instrument_id`` and ``mission`` at the top (what ``rovercam synth`` writes beside a
generated sol). This module is the one place that reads camera tables and the one place that
decides which camera a product is:

- :func:`camera_tables_in` reads the tables of one folder;
- :func:`merge_camera_tables` layers the registry, search-path tables and user values;
- :func:`find_camera` resolves (mission, INSTRUMENT_ID or alias) to a camera.

Missions are named as rovercam's products name them (:attr:`rovercam.products.Product.mission`):
``M2020``, ``MSL``, ``MER``, ``NSYT`` (InSight).
"""
from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rovercam.errors import ConfigError

__all__ = ["CameraSettings", "MISSIONS", "camera_tables_in", "merge_camera_tables", "find_camera", "iter_cameras",
           "calibration_files", "lut_files", "camera_status", "registry_markdown"]

#: Mission keys and their names.
MISSIONS = {
    "M2020": "Mars 2020 (Perseverance)",
    "MSL": "Mars Science Laboratory (Curiosity)",
    "MER": "Mars Exploration Rovers (Spirit, Opportunity)",
    "NSYT": "InSight",
}

Tables = dict[str, dict[str, dict[str, Any]]]


class CameraSettings(BaseModel):
    """One camera of the registry: instrument facts and the calibration rovercam has for it.

    Cameras are keyed by mission and instrument id (``[cameras.<MISSION>.<INSTRUMENT_ID>]``);
    the shipped registry is ``config/cameras/<mission>.toml``, documented in docs/cameras.md.
    Every value that is not known is absent, and the frame chain records what it could not do
    (docs/calibration.md); nothing here is a placeholder. Validated with the rest of the
    settings (:class:`rovercam.config.Settings` holds one per camera).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    instrument_id: str
    mission: str
    code: str = ""
    name: str = ""
    # Other INSTRUMENT_ID spellings of this camera (raw-image site names, archive variants).
    aliases: tuple[str, ...] = ()
    # Full-resolution detector, pixels; None where not published.
    detector_samples: int | None = Field(None, gt=0)
    detector_lines: int | None = Field(None, gt=0)
    bits: int | None = Field(None, ge=1, le=16)  # ADC depth
    cfa_pattern: Literal["RGGB", "GRBG", "GBRG", "BGGR"] | None = None  # None: monochrome
    # LUT family: inverse-LUT file = luts/<lut_prefix><SAMPLE_BIT_MODE_ID>.txt on the search path,
    # unless ``luts`` maps the label's id to a dated file stem (e.g. {LUT2 = "M20_LUT2_v2a"}).
    lut_prefix: str = ""
    luts: dict[str, str] = Field(default_factory=dict)
    bias_dn: float = 0.0
    bias_source: str = ""
    # Flat field, relative to a calibration folder. ``{downsample}`` is replaced by the product's
    # pixel averaging (1, 2, 4) and ``{zoom:04d}`` by the nearest of ``flat_zoom_counts`` to the
    # label's zoom motor count; ``flat_filters`` lists the filters it serves (empty: all).
    flat: str | None = None
    flat_zoom_counts: tuple[int, ...] = ()
    flat_filters: tuple[str, ...] = ()
    flat_source: str = ""
    # Bad-pixel map: text ("x y" 0-based detector pixels per line) or an image (non-zero = bad).
    bad_pixels: str | None = None
    stereo_partner: str | None = None
    # "absolute": a published responsivity turns DN/s into radiance; "relative": values stay
    # flat-fielded DN/s. The source says where that status comes from.
    radiometry: Literal["absolute", "relative"] = "relative"
    radiometry_source: str = Field(min_length=1)
    # DN s^-1 per W m^-2 sr^-1 nm^-1, camera R, G, B (one band: three equal values).
    responsivity: tuple[float, float, float] | None = None
    # Camera RGB -> CIE XYZ; None: frames stay in camera RGB (not colour calibrated).
    xyz_from_camera: tuple[
        tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]
    ] | None = None
    read_noise_dn: float = Field(0.0, ge=0)
    gain_e_per_dn: float = Field(1.0, gt=0)
    # Radiance shown as white in previews; None: previews stretch to the data.
    display_white_radiance: float | None = Field(None, gt=0)
    # Responsivity temperature term: k(T) = k * (1 + b1 dT + b2 dT^2), dT = T - temperature_ref_c.
    temperature_ref_c: float | None = None
    responsivity_temperature_coeff: tuple[float, float] = (0.0, 0.0)
    # Zoom f-number term (Mastcam-Z): k * (f_number_ref / f#)^2, f# interpolated in
    # f_number_table = [[focal_length_mm, f_number], ...] at the label's FOCAL_LENGTH.
    f_number_ref: float | None = Field(None, gt=0)
    f_number_table: tuple[tuple[float, float], ...] = ()
    # Exposure overhead added to EXPOSURE_DURATION (MIPL exp_overhead), seconds.
    exposure_overhead_s: float = 0.0
    # Fixed white-balance gains for camera R, G, B ([chain] white_balance = "fixed").
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # Band solar irradiance at 1 AU, W m^-2 nm^-1, camera R, G, B (I/F); per filter for
    # narrow-band cameras in solar_irradiance_by_filter.
    solar_irradiance: tuple[float, float, float] = (1.65, 1.86, 2.03)
    solar_irradiance_by_filter: dict[str, float] = Field(default_factory=dict)
    # The generator's own values (rovercam.synth), never a real instrument's.
    synthetic: bool = False
    # Anything a reader of docs/cameras.md should know (unverified facts, string A/B caveats).
    notes: str = ""

    @field_validator("responsivity")
    @classmethod
    def _positive(cls, v: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if v is not None and any(x <= 0 for x in v):
            raise ValueError(f"responsivity must be positive, got {v}")
        return v

    @model_validator(mode="after")
    def _absolute_needs_responsivity(self) -> "CameraSettings":
        if self.radiometry == "absolute" and self.responsivity is None:
            raise ValueError("radiometry = \"absolute\" needs a responsivity")
        return self

    @property
    def key(self) -> str:
        """``MISSION/INSTRUMENT_ID``."""
        return f"{self.mission}/{self.instrument_id}"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: camera table not readable: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: camera table is not valid TOML: {exc}") from None


def _tables_of_file(path: Path) -> list[dict[str, Any]]:
    doc = _read(path)
    if "instrument_id" in doc:  # one camera per file
        cams = [doc]
    else:
        mission = doc.pop("mission", None)
        if not isinstance(mission, str):
            raise ConfigError(f"{path}: a camera file needs `mission = \"...\"` at the top "
                              "(or one camera with `instrument_id` and `mission`)")
        cams = []
        for iid, table in doc.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: `{iid}` is not a camera table")
            if str(table.get("instrument_id", iid)).upper() != iid.upper():
                raise ConfigError(f"{path}: table [{iid}] says instrument_id = {table['instrument_id']!r}")
            cams.append({"instrument_id": iid, **table, "mission": table.get("mission", mission)})
    for cam in cams:
        for key in ("instrument_id", "mission"):
            if not isinstance(cam.get(key), str) or not cam[key]:
                raise ConfigError(f"{path}: camera table without `{key}`")
        cam["instrument_id"], cam["mission"] = cam["instrument_id"].upper(), cam["mission"].upper()
    return cams


def camera_tables_in(folder: Path) -> Tables:
    """Camera tables of every ``*.toml`` in ``folder`` (none when it does not exist).

    Returns
    -------
    dict
        mission -> INSTRUMENT_ID -> raw table (validated later, with the rest of the settings).

    Raises
    ------
    ConfigError
        A file that is not TOML, lacks a mission or instrument id, or defines a camera twice.
    """
    out: Tables = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.toml")):
        for cam in _tables_of_file(path):
            mission, iid = cam["mission"], cam["instrument_id"]
            if iid in out.get(mission, {}):
                raise ConfigError(f"{path}: camera {mission}/{iid} is defined twice in {folder}")
            out.setdefault(mission, {})[iid] = cam
    return out


def merge_camera_tables(registry: Tables, folders: list[Path], user: Mapping[str, Any], origin: str) -> Tables:
    """The cameras of a configuration: ``registry``, then whole tables from ``folders`` (the first
    folder wins; a table replaces the registry's camera), then single values from ``user``
    (``{MISSION: {INSTRUMENT_ID: {key: value}}}``, from a user file, the environment or overrides).

    Raises
    ------
    ConfigError
        ``user`` is not keyed by mission, or sets values of a camera no table defines without
        being a complete table itself (the message says how to key it).
    """
    merged: Tables = {m: {i: copy.deepcopy(t) for i, t in cams.items()} for m, cams in registry.items()}
    for folder in reversed(folders):  # the first folder is applied last, so it wins
        for mission, cams in camera_tables_in(folder).items():
            merged.setdefault(mission, {}).update(copy.deepcopy(cams))
    for mission, cams in user.items():
        if not isinstance(cams, Mapping) or any(not isinstance(v, Mapping) for v in cams.values()):
            raise ConfigError(f"invalid configuration ({origin}): cameras are keyed by mission, then "
                              f"instrument: [cameras.M2020.NAVCAM_LEFT], not [cameras.{mission}]")
        m = mission.upper()
        for iid, values in cams.items():
            base = merged.setdefault(m, {}).setdefault(iid.upper(), {"instrument_id": iid.upper(), "mission": m})
            base.update(copy.deepcopy(dict(values)))
    return merged


def iter_cameras(cameras: Mapping[str, Mapping[str, CameraSettings]]) -> list[CameraSettings]:
    """Every camera, sorted by mission and INSTRUMENT_ID."""
    return [cameras[m][i] for m in sorted(cameras) for i in sorted(cameras[m])]


def find_camera(cameras: Mapping[str, Mapping[str, CameraSettings]], instrument_id: str,
                mission: str | None = None) -> CameraSettings:
    """Resolve a product's (mission, INSTRUMENT_ID) to its camera.

    The id is matched case-insensitively against each camera's INSTRUMENT_ID, then its aliases.
    Without a mission the id must be unique across missions.

    Raises
    ------
    ConfigError
        No such camera, or an ambiguous id; the message lists what is known.
    """
    iid = instrument_id.strip().upper()
    missions = [mission.upper()] if mission else sorted(cameras)
    hits = []
    for m in missions:
        cams = cameras.get(m, {})
        if iid in cams:
            hits.append(cams[iid])
            continue
        hits += [c for c in cams.values() if iid in (a.upper() for a in c.aliases)]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        where = ", ".join(c.key for c in hits)
        raise ConfigError(f"camera {instrument_id!r} is ambiguous ({where}); give the product's mission")
    if mission and mission.upper() not in cameras:
        known = ", ".join(sorted(cameras)) or "none"
        raise ConfigError(f"no cameras registered for mission {mission!r} (missions: {known}); "
                          "add a [cameras.<MISSION>.<INSTRUMENT_ID>] table in your config file")
    scope = f"mission {missions[0]}" if mission else "any mission"
    known = ", ".join(sorted(i for m in missions for i in cameras.get(m, {}))) or "none"
    raise ConfigError(
        f"no camera {instrument_id!r} in {scope} (known: {known}); add a "
        f"[cameras.{(mission or 'MISSION').upper()}.{iid}] table in your config file or a camera table "
        "in <calibration folder>/cameras/"
    )


def _flat_files(cam: CameraSettings) -> list[str]:
    """Every file the camera's flat template can name (downsample 1, 2, 4; each zoom count)."""
    if not cam.flat:
        return []
    names = set()
    for ds in (1, 2, 4):
        for zoom in cam.flat_zoom_counts or (0,):
            names.add(cam.flat.format(downsample=ds, zoom=zoom))
    return sorted(names)


def calibration_files(cam: CameraSettings) -> list[str]:
    """The calibration files (relative to a calibration folder) a camera's entry names:
    its flat(s) and its bad-pixel map. LUTs are named by the products (see :func:`lut_files`)."""
    return _flat_files(cam) + ([cam.bad_pixels] if cam.bad_pixels else [])


def lut_files(cam: CameraSettings, folders: list[Path]) -> list[str]:
    """The inverse-LUT files of the camera's family found in ``folders`` (``luts/`` of each):
    the dated files of ``luts`` and every ``<lut_prefix>*.txt``."""
    found: set[str] = set()
    for folder in folders:
        d = folder / "luts"
        if not d.is_dir():
            continue
        names = {p.name for p in d.iterdir() if p.is_file()}
        for stem in cam.luts.values():
            found |= {n for n in names if n.lower() == f"{stem}.txt".lower()}
        if cam.lut_prefix:  # <prefix>LUT<n>.txt, as labels name them (SAMPLE_BIT_MODE_ID LUT<n>)
            pattern = re.compile(re.escape(cam.lut_prefix) + r"LUT\d+\.txt", re.IGNORECASE)
            found |= {n for n in names if pattern.fullmatch(n)}
    return sorted(found)


def camera_status(cam: CameraSettings, folders: list[Path]) -> dict[str, Any]:
    """What a camera's calibration is, file by file, on the calibration search path ``folders``.

    Returns
    -------
    dict
        ``camera`` (MISSION/ID), ``name``, ``detector`` ("5120x3840" or "?"), ``bits``, ``cfa``,
        ``luts`` (files found), ``flat`` and ``bad_pixels`` (file -> folder found in, or None),
        ``partner``, ``radiometry``, ``source``, ``synthetic``, ``level`` (the best calibration
        level a frame of this camera can reach: 3 absolute, 2 flat-fielded, 1 linear).
    """
    def where(rel: str) -> str | None:
        for folder in folders:
            if (folder / rel).is_file():
                return str(folder)
        return None

    flats = {rel: where(rel) for rel in _flat_files(cam)}
    bad = {cam.bad_pixels: where(cam.bad_pixels)} if cam.bad_pixels else {}
    has_flat = bool(flats) and all(flats.values())
    level = 3 if cam.radiometry == "absolute" else (2 if has_flat else 1)
    detector = (f"{cam.detector_samples}x{cam.detector_lines}"
                if cam.detector_samples and cam.detector_lines else "?")
    # a camera whose sensor facts are unknown (bits absent) may have a CFA the label names
    cfa = cam.cfa_pattern or ("none" if cam.bits is not None else "? (label)")
    return {"camera": cam.key, "name": cam.name, "detector": detector, "bits": cam.bits,
            "cfa": cfa, "luts": lut_files(cam, folders), "flat": flats,
            "bad_pixels": bad, "partner": cam.stereo_partner, "radiometry": cam.radiometry,
            "source": cam.radiometry_source, "synthetic": cam.synthetic, "level": level,
            "notes": cam.notes}


def registry_markdown(cameras: Mapping[str, Mapping[str, CameraSettings]], folders: list[Path]) -> str:
    """The registry as the Markdown table of docs/cameras.md (``rovercam cameras --markdown``)."""
    rows = ["| camera | name | detector | bits | CFA | LUT family | flat | bad pixels | stereo partner "
            "| radiometry | source |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for cam in iter_cameras(cameras):
        st = camera_status(cam, folders)
        lut = cam.lut_prefix + "*" if cam.lut_prefix else ""
        if cam.luts:
            lut = ", ".join(filter(None, [lut, f"{len(cam.luts)} dated/renamed tables"
                                          if len(cam.luts) > 3 else ", ".join(cam.luts.values())]))
        flat = cam.flat or "none"
        if cam.flat_filters:
            flat += f" (filter {'/'.join(cam.flat_filters)})"
        cells = [f"`{cam.key}`", st["name"], st["detector"], str(st["bits"] or "?"), st["cfa"], lut or "none",
                 flat.replace("|", "\\|"), cam.bad_pixels or "none", cam.stereo_partner or "-",
                 cam.radiometry + (" (synthetic)" if cam.synthetic else ""),
                 (cam.radiometry_source + (f". {cam.notes}" if cam.notes else "")).replace("|", "\\|")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
