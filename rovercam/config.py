"""Typed configuration: defaults in ``config/``, a user file, environment variables, overrides.

Precedence, lowest first (README "Configuration"):

1. built-in defaults: ``config/pipeline.toml`` and ``config/cameras/*.toml`` (one file per camera);
2. a user file: the ``path`` argument (``rovercam --config FILE``), else ``$ROVERCAM_CONFIG``,
   else ``~/.config/rovercam/config.toml`` when it exists. Same sections as pipeline.toml, plus
   ``[cameras.<INSTRUMENT_ID>]`` tables that override single camera values;
3. environment variables ``ROVERCAM_<SECTION>__<KEY>`` (e.g. ``ROVERCAM_STORAGE__ROOT=/data/out``,
   ``ROVERCAM_CHAIN__DEBAYER=bilinear``); values are read as TOML when they parse, else as strings;
4. ``overrides`` passed by the caller (command-line flags), as nested dicts.

The result is validated once into :class:`Settings`; library functions receive values from it and
never read the environment themselves (STYLE.md, "Config at the edge").
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rovercam.errors import ConfigError

__all__ = [
    "Settings",
    "CameraSettings",
    "load",
    "defaults_dir",
    "ENV_PREFIX",
]

ENV_PREFIX = "ROVERCAM_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSettings(_Section):
    root: str = "./rovercam-output"
    # fsspec storage options for a URL root, e.g. for S3-compatible stores
    # {endpoint_url = "http://127.0.0.1:9000", key = "...", secret = "..."} (s3fs names).
    options: dict[str, Any] = Field(default_factory=dict)


class CatalogSettings(_Section):
    url: str = ""


class CalibrationSettings(_Section):
    search_path: list[str] = Field(default_factory=lambda: ["data/calibration"])


class LimitsSettings(_Section):
    max_lines: int = Field(65536, gt=0)
    max_samples: int = Field(65536, gt=0)
    max_bands: int = Field(64, gt=0)
    max_bytes: int = Field(4 << 30, gt=0)


class ChainSettings(_Section):
    """Frame-chain options (``[chain]``; rovercam.chain documents each step)."""

    debayer: Literal["malvar", "bilinear", "edge_aware", "vng"] = "malvar"
    linearize_fov: Literal["min", "max"] = "min"
    min_flat: float = Field(0.05, gt=0, lt=1)
    # What the flat stage produces: spectral radiance, or I/F (radiance factor).
    quantity: Literal["radiance", "iof"] = "radiance"
    # Divide radiance by MIPL's zenith factor Z (RAS "scaled spectral radiance"; needs the sun's
    # elevation from the label).
    zenith_scaling: bool = False
    zenith_tau: float = Field(0.6, ge=0)
    zenith_tau_ref: float = Field(0.3, ge=0)
    white_balance: Literal["none", "fixed", "grey_world"] = "none"
    repair_bad_pixels: bool = True
    undo_onboard_flat: bool = True
    # A product without an exposure time (raw-image-site PNGs): "error", or "relative" radiance
    # (exposure taken as 1 s, recorded in the frame's radiometric_type and provenance).
    missing_exposure: Literal["error", "relative"] = "relative"


class MosaicSettings(_Section):
    """Mosaic options (``[mosaic]``; rovercam.mosaic documents each step)."""

    projection: Literal["cylindrical", "equirectangular", "polar", "vertical", "perspective"] = "cylindrical"
    surface: Literal["infinity", "ground", "sphere"] = "infinity"
    scale_deg: float = Field(0.0, ge=0)
    width: int = Field(0, ge=0)
    camera_height_m: float = Field(1.9, gt=0)
    sphere_radius_m: float = Field(10.0, gt=0)
    vertical_extent_m: float = Field(10.0, gt=0)
    group_by: list[str] = Field(default_factory=lambda: ["site", "drive", "sequence_id", "instrument"])
    refine_pointing: bool = True
    max_pointing_error_deg: float = Field(1.0, gt=0, le=10)
    gains: Literal["none", "gain", "gain_offset"] = "gain"
    blend: Literal["multiband", "feather"] = "multiband"
    levels: int = Field(0, ge=0, le=8)
    feather: float = Field(0.5, ge=0, le=1)
    tile: int = Field(1024, ge=64)
    workers: int = Field(2, ge=1)
    max_pixels: int = Field(400_000_000, gt=0)
    min_frames: int = Field(2, ge=1)


class PublishSettings(_Section):
    cog_blocksize: int = Field(512, ge=16)
    thumbnail_max_side: int = Field(512, ge=16)


class PrefectSettings(_Section):
    """Orchestration (``[prefect]``; flows/ documents each option)."""

    max_workers: int = Field(2, ge=1)
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str = ""
    dask_workers: int = Field(2, ge=1)
    dask_batch: int = Field(0, ge=0)  # 0: auto, about 4 tasks per worker
    chain_tasks: Literal["fused", "per-stage"] = "fused"
    fetch_timeout_s: float = Field(600.0, gt=0)
    publish_timeout_s: float = Field(1800.0, gt=0)


class CameraSettings(_Section):
    """Calibration of one camera (``config/cameras/<camera>.toml``)."""

    instrument_id: str
    code: str
    mission: str
    detector_samples: int = Field(gt=0)
    detector_lines: int = Field(gt=0)
    cfa_pattern: Literal["RGGB", "GRBG", "GBRG", "BGGR"] | None = "RGGB"
    lut_prefix: str = ""
    bias_dn: float = 0.0
    responsivity: tuple[float, float, float]
    xyz_from_camera: tuple[
        tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]
    ]
    flat: str | None = None
    read_noise_dn: float = Field(0.0, ge=0)
    gain_e_per_dn: float = Field(1.0, gt=0)
    display_white_radiance: float = Field(0.08, gt=0)
    # Label LUT id -> inverse-LUT file stem on the calibration path (e.g. {LUT2 = "M20_LUT2_v2a"});
    # ids not listed use <lut_prefix><id>.
    luts: dict[str, str] = Field(default_factory=dict)
    # Bad-pixel list (text, "x y" 0-based detector pixels per line), relative to the search path.
    bad_pixels: str | None = None
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

    @field_validator("responsivity")
    @classmethod
    def _positive(cls, v: tuple[float, float, float]) -> tuple[float, float, float]:
        if any(x <= 0 for x in v):
            raise ValueError(f"responsivity must be positive, got {v}")
        return v


class Settings(_Section):
    """The validated configuration. Build it with :func:`load`."""

    storage: StorageSettings = StorageSettings()
    catalog: CatalogSettings = CatalogSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    limits: LimitsSettings = LimitsSettings()
    chain: ChainSettings = ChainSettings()
    mosaic: MosaicSettings = MosaicSettings()
    publish: PublishSettings = PublishSettings()
    prefect: PrefectSettings = PrefectSettings()
    cameras: dict[str, CameraSettings] = Field(default_factory=dict)
    sources: tuple[str, ...] = ()  # where the values came from, lowest precedence first

    @property
    def storage_root(self) -> str:
        """The storage root; a local path is made absolute."""
        root = self.storage.root
        return root if "://" in root else str(Path(root).expanduser().resolve())

    @property
    def catalog_url(self) -> str:
        """SQLAlchemy URL of the catalog (default: SQLite inside a local storage root)."""
        if self.catalog.url:
            return self.catalog.url
        if "://" in self.storage.root:
            raise ConfigError("catalog.url must be set when storage.root is not a local path")
        return f"sqlite:///{Path(self.storage_root) / 'catalog.sqlite'}"

    @property
    def calibration_path(self) -> tuple[Path, ...]:
        """Calibration search folders as absolute paths, in order."""
        return tuple(Path(p).expanduser().resolve() for p in self.calibration.search_path)

    def camera(self, instrument_id: str) -> CameraSettings:
        """Settings of one camera; ConfigError naming the known cameras when absent."""
        try:
            return self.cameras[instrument_id.upper()]
        except KeyError:
            known = ", ".join(sorted(self.cameras)) or "none"
            raise ConfigError(
                f"no calibration configured for camera {instrument_id!r} (known: {known}); "
                "add config/cameras/<camera>.toml or a [cameras.<ID>] table in your config file"
            ) from None

    @property
    def config_hash(self) -> str:
        """sha256 of everything that changes science results (not where results are stored)."""
        science = self.model_dump(
            mode="json", include={"chain", "mosaic", "cameras", "limits", "publish"}
        )
        blob = json.dumps(science, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Settings":
        """A copy with nested ``overrides`` applied and validated."""
        data = self.model_dump(mode="python")
        _deep_merge(data, overrides)
        data["sources"] = (*self.sources, "overrides")
        return _validate(data, "overrides")


def defaults_dir() -> Path:
    """The folder holding pipeline.toml and cameras/ (``$ROVERCAM_DEFAULTS_DIR`` overrides)."""
    env = os.environ.get("ROVERCAM_DEFAULTS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "config", here / "_defaults"):  # source tree, then wheel
        if (candidate / "pipeline.toml").is_file():
            return candidate
    raise ConfigError("cannot find rovercam's default configuration (config/pipeline.toml)")


def load(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Load the configuration with the documented precedence.

    Parameters
    ----------
    path : path, optional
        A user TOML file. Default: ``$ROVERCAM_CONFIG``, else ``~/.config/rovercam/config.toml``
        when present.
    overrides : mapping, optional
        Highest-precedence values as nested dicts, e.g. ``{"storage": {"root": "/tmp/x"}}``.
    environ : mapping, optional
        The environment to read ``ROVERCAM_*`` variables from (default ``os.environ``).

    Raises
    ------
    ConfigError
        A file is missing or not TOML, or a value is invalid (the message names file and key).
    """
    env = os.environ if environ is None else environ
    ddir = defaults_dir()
    data = _read_toml(ddir / "pipeline.toml")
    sources = [str(ddir / "pipeline.toml")]
    cameras: dict[str, Any] = {}
    for f in sorted((ddir / "cameras").glob("*.toml")):
        cam = _read_toml(f)
        iid = str(cam.get("instrument_id", "")).upper()
        if not iid:
            raise ConfigError(f"{f}: instrument_id is missing")
        cameras[iid] = cam
    data["cameras"] = cameras

    if path is None:
        path = env.get(ENV_PREFIX + "CONFIG") or None
        if path is None:
            home_file = Path("~/.config/rovercam/config.toml").expanduser()
            path = home_file if home_file.is_file() else None
    if path is not None:
        user = _read_toml(Path(path))
        user_cams = user.pop("cameras", {})
        _deep_merge(data, user)
        for iid, cam in user_cams.items():
            data["cameras"].setdefault(iid.upper(), {}).update(cam)
        sources.append(str(path))

    env_over: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        parts = key[len(ENV_PREFIX):].lower().split("__")
        node = env_over
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_env_value(raw)
    if env_over:
        _deep_merge(data, env_over)
        sources.append("environment")
    if overrides:
        _deep_merge(data, overrides)
        sources.append("overrides")
    data["sources"] = tuple(sources)
    return _validate(data, " < ".join(sources))


def _validate(data: dict[str, Any], origin: str) -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({origin}): {problems}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _deep_merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
