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
never read the environment themselves (docs/architecture.md#where-each-decision-lives).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rovercam.errors import ConfigError
from rovercam.registry import CameraSettings, camera_tables_in, find_camera, merge_camera_tables

__all__ = [
    "Settings",
    "CameraSettings",
    "StereoSettings",
    "load",
    "defaults_dir",
    "data_dir",
    "calibration_data_dir",
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
    # Retries of a store operation that failed transiently (HTTP 5xx, timeout), on top of the S3
    # client's own; the first after retry_delay_s seconds, then doubling (docs/operations.md).
    retries: int = Field(3, ge=0)
    retry_delay_s: float = Field(0.5, ge=0)


class CatalogSettings(_Section):
    url: str = ""


class CalibrationSettings(_Section):
    """Where calibration files are found and what a missing one means (``[calibration]``)."""

    # User folders, searched first, in order; the calibration shipped with rovercam
    # (:func:`data_dir`) is always searched last.
    search_path: list[str] = Field(default_factory=list)
    # False: a missing flat, LUT or responsivity lowers the frame's calibration level and the run
    # goes on (recorded); True: it is a CalibrationError.
    strict: bool = False


class LimitsSettings(_Section):
    max_lines: int = Field(65536, gt=0)
    max_samples: int = Field(65536, gt=0)
    max_bands: int = Field(64, gt=0)
    max_bytes: int = Field(4 << 30, gt=0)


class FetchSettings(_Section):
    """Fetching from a source (``[fetch]``): timeouts, retries and the limits that keep a hostile
    or broken source from filling the disk or the memory (docs/reliability.md, "Hostile sources")."""

    timeout_s: float = Field(30.0, gt=0)  # socket timeout of each request
    retries: int = Field(3, ge=0)  # extra attempts after a transient failure
    backoff_s: float = Field(0.5, ge=0)  # first retry delay, doubled each attempt (at most 30 s)
    deadline_s: float = Field(300.0, gt=0)  # longest one file's transfer may take, wall clock
    max_product_bytes: int = Field(4 << 30, gt=0)  # all of a product's files together
    max_label_bytes: int = Field(4 << 20, gt=0)  # a label file: .LBL, PDS4 .xml, -metadata.json
    max_listing_bytes: int = Field(16 << 20, gt=0)  # a directory listing or feed page
    redirect_hosts: list[str] = Field(default_factory=list)  # besides the requested host


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
    # terrain: vertical mosaics on a DEM, level ground where it has none (docs/mosaics.md)
    surface: Literal["infinity", "ground", "sphere", "terrain"] = "infinity"
    scale_deg: float = Field(0.0, ge=0)
    width: int = Field(0, ge=0)
    camera_height_m: float = Field(1.9, gt=0)
    sphere_radius_m: float = Field(10.0, gt=0)
    vertical_extent_m: float = Field(10.0, gt=0)
    group_by: list[str] = Field(default_factory=lambda: ["site", "drive", "sequence_id", "instrument"])
    refine_pointing: bool = True
    max_pointing_error_deg: float = Field(1.0, gt=0, le=10)
    gains: Literal["none", "gain", "gain_offset"] = "gain"
    # The mosaic's overall radiometric scale (docs/mosaics.md#the-global-scale): mean | reference |
    # calibrated; reference frames by product id (one per mosaic that uses them).
    gain_scale: Literal["mean", "reference", "calibrated"] = "mean"
    gain_reference: list[str] = Field(default_factory=list)
    # Frame values (calibrated units, before gain correction) at or above which a pixel counts as
    # clipped: the resampling kernel does not read it (docs/mosaics.md#resampling); 0 = none.
    saturation: float = Field(0.0, ge=0, allow_inf_nan=False)
    # Resampling is not a setting: every frame is supersampled over the output pixels' footprints
    # (4 x 4 bicubic sub-samples at a 3x reduction), reading frames per tile through windows
    # (docs/mosaics.md#resampling; rovercam.mosaic.render.RenderOptions for other choices).
    blend: Literal["multiband", "feather"] = "multiband"
    levels: int = Field(0, ge=0, le=8)
    feather: float = Field(0.5, ge=0, le=1)
    tile: int = Field(1024, ge=64)
    workers: int = Field(2, ge=1)
    max_pixels: int = Field(400_000_000, gt=0)
    min_frames: int = Field(2, ge=1)

    @field_validator("gain_reference", mode="before")
    @classmethod
    def _one_or_more_ids(cls, value: Any) -> Any:
        """A single product id (``ROVERCAM_MOSAIC__GAIN_REFERENCE=NLF_...``) is a list of one."""
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _terrain_vertical(self) -> "MosaicSettings":
        if self.surface == "terrain" and self.projection != "vertical":
            raise ValueError(f"surface = 'terrain' applies to vertical (orthographic) mosaics only, not "
                             f"projection = {self.projection!r}")
        return self

    @model_validator(mode="after")
    def _reference_named(self) -> "MosaicSettings":
        if self.gain_scale == "reference" and not self.gain_reference:
            raise ValueError("gain_scale = 'reference' needs gain_reference: the product id of the frame "
                             "that keeps its radiance (one per mosaic)")
        if self.gain_reference and self.gain_scale != "reference":
            raise ValueError(f"gain_reference is only used with gain_scale = 'reference', not {self.gain_scale!r}")
        return self


class StereoSettings(_Section):
    """Stereo matching and triangulation options (``[stereo]``; docs/stereo.md)."""

    # The nearest and farthest range to match, metres from the left camera; with the rectified
    # models they give the disparity search range (0 = infinity for the far end).
    min_range_m: float = Field(1.0, gt=0)
    max_range_m: float = Field(0.0, ge=0)
    # Widest disparity search accepted (pixels): a limit before the matcher allocates.
    max_disparities: int = Field(2048, ge=16)
    # OpenCV StereoSGBM: matching block side (odd px), path mode, uniqueness margin (%),
    # largest left-right disagreement (px), speckle filter (region px, disparity step px).
    block_size: int = Field(5, ge=3, le=11)
    sgbm_mode: Literal["sgbm", "3way", "hh4"] = "3way"
    uniqueness_ratio: int = Field(10, ge=0, le=100)
    lr_max_diff: int = Field(1, ge=0)
    speckle_window: int = Field(100, ge=0)
    speckle_range: int = Field(2, ge=0)
    # Sub-pixel refinement: window side (odd px) and Gauss-Newton iterations (0 = raw SGBM).
    refine_window: int = Field(7, ge=3, le=31)
    refine_iterations: int = Field(1, ge=0, le=10)
    # Invalid where the zero-mean normalised cross-correlation at the match is below this, or
    # the left window's standard deviation is below min_texture of the image's dynamic range.
    min_correlation: float = Field(0.5, ge=-1, le=1)
    min_texture: float = Field(0.002, ge=0)
    # Surface normals: plane-fit window side (odd px).
    normal_window: int = Field(25, ge=3, le=101)
    # One-sigma disparity error of the refined matcher (px), the origin of range_sigma.
    disparity_sigma_px: float = Field(0.25, gt=0)
    # Gaussian smoothing of both eyes' matching luminance (sigma, px; 0 = none) before matching
    # and refinement: for frames whose pixel-level noise drowns the scene's texture.
    smooth_sigma_px: float = Field(0.0, ge=0, le=10)
    # Coarse to fine: the full search at half resolution, then prior_passes full-resolution
    # passes on the right image warped by a smooth surface through the last matches (medians
    # over prior_cell_px cells, a robust plane where cells are empty), searching
    # +-prior_search_px (a multiple of 8) around it. 0 passes: one full search at full resolution.
    prior_passes: int = Field(2, ge=0, le=8)
    prior_search_px: int = Field(16, ge=8, le=512, multiple_of=8)
    prior_cell_px: int = Field(16, ge=4, le=256)
    # The first guide of those passes: the half-resolution SGBM search ("sgbm"), or a search of
    # slanted planes from random starts at half resolution ("planes": near ground seen by a wide
    # baseline, where the block search locks onto a wrong surface). The SGBM search still runs
    # for the occlusion checks.
    coarse_search: Literal["sgbm", "planes"] = "sgbm"
    # Holes filled by verified guesses: for each sigma (px) a Gaussian-weighted mean of the
    # matches around each hole, refined and kept where its ZNCC reaches fill_min_correlation
    # and it passes min_texture and the uniqueness check (the best ZNCC of the sigmas). Empty: off.
    fill_sigmas_px: tuple[Annotated[float, Field(gt=0, le=256)], ...] = Field((), max_length=8)
    fill_min_correlation: float = Field(0.7, ge=-1, le=1)
    # Then a PatchMatch search of slanted planes for what is still a hole (started from the
    # fill_sigmas_px guesses, or 3, 10 and 30 px when empty), kept where the plane's 9 x 9
    # window reaches a ZNCC of 0.8, has texture, passes the uniqueness check and is no island.
    fill_planes: bool = False
    # Per-camera overrides of the options above, by INSTRUMENT_ID of the left eye
    # ([stereo.cameras.MCZ_LEFT] smooth_sigma_px = 2.0); see for_camera.
    cameras: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("cameras")
    @classmethod
    def _camera_overrides(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, options in value.items():
            if "cameras" in options:
                raise ValueError(f"cameras.{name}: overrides cannot nest 'cameras'")
            cls.model_validate(options)  # the same names, types and bounds as [stereo]
        return value

    def for_camera(self, instrument: str | None) -> "StereoSettings":
        """These settings with ``cameras[instrument]``'s overrides applied (self when none)."""
        options = self.cameras.get(instrument or "")
        if not options:
            return self
        return type(self).model_validate({**self.model_dump(exclude={"cameras"}), **options})

    @field_validator("block_size", "refine_window", "normal_window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"must be odd, got {value}")
        return value


class PublishSettings(_Section):
    cog_blocksize: int = Field(512, ge=16)
    thumbnail_max_side: int = Field(512, ge=16)


class StereoStageSettings(_Section):
    """The pipeline's ``stereo`` stage (``[stereo_stage]``): which pairs it makes, the meshes and
    the terrain of each site and drive (docs/stereo.md#pipeline). How a pair is matched and
    triangulated is ``[stereo]``."""

    # true (default): every stereo pair of a sol becomes 3-D outputs; false: the stage does nothing
    # (no pairs are looked for, nothing is published; docs/stereo.md#pipeline).
    enabled: bool = True
    # A left and a right frame pair when their start times differ by at most this, seconds.
    pair_tolerance_s: float = Field(2.0, ge=0)
    # Largest distance of a decimated mesh from the points it was made of, metres.
    mesh_max_error_m: float = Field(0.02, gt=0)
    # Cell of the merged terrain of each site and drive (DEM and its mesh), metres.
    terrain_cell_m: float = Field(0.05, gt=0)
    # Points further than this from their left camera stay out of the merged terrain, metres:
    # far ground is sparse and uncertain (range error grows with range squared), and matches
    # near zero disparity reach the horizon.
    terrain_max_range_m: float = Field(30.0, gt=0)
    # false: per-pair outputs only, no merged terrain.
    terrain: bool = True


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
    sol_lock_timeout_s: float = Field(3600.0, ge=0)
    sol_lock_ttl_s: float = Field(60.0, gt=0)
    liveness_check_s: float = Field(60.0, gt=0)


class Settings(_Section):
    """The validated configuration. Build it with :func:`load`."""

    storage: StorageSettings = StorageSettings()
    catalog: CatalogSettings = CatalogSettings()
    calibration: CalibrationSettings = CalibrationSettings()
    limits: LimitsSettings = LimitsSettings()
    fetch: FetchSettings = FetchSettings()
    chain: ChainSettings = ChainSettings()
    mosaic: MosaicSettings = MosaicSettings()
    stereo: StereoSettings = StereoSettings()
    publish: PublishSettings = PublishSettings()
    stereo_stage: StereoStageSettings = StereoStageSettings()
    prefect: PrefectSettings = PrefectSettings()
    # mission -> INSTRUMENT_ID -> camera (the registry, then search-path tables, then user values)
    cameras: dict[str, dict[str, CameraSettings]] = Field(default_factory=dict)
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
        """Calibration search folders as absolute paths, in order: the user's, then rovercam's own."""
        user = tuple(Path(p).expanduser().resolve() for p in self.calibration.search_path)
        shipped = calibration_data_dir()
        return user if shipped in user else (*user, shipped)

    def camera(self, instrument_id: str, mission: str | None = None) -> CameraSettings:
        """One camera of the registry, by mission and INSTRUMENT_ID (or one of its aliases).

        ``mission`` may be omitted only when the id names one camera across all missions.

        Raises
        ------
        ConfigError
            No such camera (the message lists the mission's cameras), or an id that several
            missions use without a mission.
        """
        return find_camera(self.cameras, instrument_id, mission)

    @property
    def config_hash(self) -> str:
        """sha256 of everything that changes science results (not where results are stored)."""
        return self.sections_hash("chain", "mosaic", "cameras", "limits", "publish")

    def sections_hash(self, *names: str) -> str:
        """sha256 of the named sections only: the ``config_hash`` of an output that depends on
        no others (a stereo pair's does not change with ``[mosaic]``)."""
        science = self.model_dump(mode="json", include=set(names))
        blob = json.dumps(science, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def with_overrides(self, overrides: Mapping[str, Any]) -> "Settings":
        """A copy with nested ``overrides`` applied and validated."""
        data = self.model_dump(mode="python")
        cameras = data.pop("cameras")
        _deep_merge(data, overrides)
        data["sources"] = (*self.sources, "overrides")
        if data["calibration"]["search_path"] == self.calibration.search_path:
            _deep_merge(cameras, overrides.get("cameras") or {})
            data["cameras"] = cameras
            return _validate(data, "overrides")
        # a new search path may bring camera tables: they apply over these cameras
        data["cameras"] = overrides.get("cameras") or {}
        return _with_cameras(data, cameras, "overrides")


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


def data_dir() -> Path:
    """rovercam's shipped data folder (``data/`` of the source tree, ``rovercam/_data`` of a wheel):
    real calibration files and their manifest (data/README.md)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "data", here / "_data"):
        if (candidate / "manifest.toml").is_file():
            return candidate
    raise ConfigError("cannot find rovercam's shipped data (data/manifest.toml); reinstall rovercam")


def calibration_data_dir() -> Path:
    """The calibration folder rovercam ships (``<data>/calibration``), last on every search path."""
    return data_dir() / "calibration"


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

    Notes
    -----
    Cameras are merged in this order, later winning: the shipped registry
    (``config/cameras/<mission>.toml``); whole camera tables found in ``cameras/*.toml`` of the
    calibration search-path folders (a generated sol's own ``calibration/`` folder, say), the
    first folder winning; then single values from the user file, the environment and
    ``overrides`` (``[cameras.M2020.NAVCAM_LEFT] bias_dn = 130``).
    """
    env = os.environ if environ is None else environ
    ddir = defaults_dir()
    data = _read_toml(ddir / "pipeline.toml")
    sources = [str(ddir / "pipeline.toml")]
    registry = camera_tables_in(ddir / "cameras")

    if path is None:
        path = env.get(ENV_PREFIX + "CONFIG") or None
        if path is None:
            home_file = Path("~/.config/rovercam/config.toml").expanduser()
            path = home_file if home_file.is_file() else None
    if path is not None:
        _deep_merge(data, _read_toml(Path(path)))
        sources.append(str(path))

    env_over: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        parts = key[len(ENV_PREFIX):].lower().split("__")
        if parts[0] == "cameras" and len(parts) == 4:  # ROVERCAM_CAMERAS__M2020__NAVCAM_LEFT__BIAS_DN
            parts[1], parts[2] = parts[1].upper(), parts[2].upper()
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
    return _with_cameras(data, registry, " < ".join(sources))


def _with_cameras(data: dict[str, Any], registry: dict[str, dict[str, dict[str, Any]]], origin: str) -> Settings:
    """Validate ``data`` with its cameras: ``registry`` < search-path tables < ``data["cameras"]``."""
    search = (data.get("calibration") or {}).get("search_path") or []
    folders = [Path(p).expanduser().resolve() / "cameras" for p in search]
    data["cameras"] = merge_camera_tables(registry, folders, data.get("cameras") or {}, origin)
    return _validate(data, origin)


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
