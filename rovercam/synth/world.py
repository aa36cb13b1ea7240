"""The synthetic world: ground-truth spectral radiance over directions in SITE_FRAME.

The world of this foundation is at **infinity**: its radiance depends on the viewing direction
only, so every camera centre (either Navcam eye, any mast position) sees the same panorama and
there is no parallax. Terrain with relief and parallax is a later extension (issue 5).

Radiance is in W m^-2 sr^-1 nm^-1 in three bands, the *world RGB*: the linear sRGB primaries
(D65), so ``XYZ = XYZ_FROM_SRGB @ world_rgb``. Directions are unit vectors in SITE_FRAME
(north-east-down); azimuth is clockwise from north, elevation positive up
(docs/conventions.md#azimuth-and-elevation).

The world is *defined* as the equirectangular panorama :func:`render_panorama` returns, sampled
bilinearly by :func:`sample_panorama` (OpenCV weights, 1/32 px), with wrap in azimuth. Frames are
rendered and the truth is evaluated through that same sampler, so they agree by construction.

Content, all band-limited so that nothing is finer than ~3 frame pixels (``pixel_deg``):

- a sky with a Mars-like gradient (butterscotch at the horizon, darker and greyer high up), a
  bluish glow around the sun and a sun disk (its radiance capped, see :class:`WorldParams`);
- an irregular distant skyline with hazy hills below it;
- ground below the horizon, textured as a flat plane ``camera_height_m`` below the eye seen
  through the direction: multi-scale albedo noise, rocks (dark basalt and light-toned, with
  shadows away from the sun), crater rings and ripple patches in Martian colours; each texture
  scale fades out where its perspective-foreshortened angular size would fall under the band
  limit, and the ground fades into haze with distance;
- fiducials: bright Gaussian spots on smooth dark pads at known directions (tests find them to a
  fraction of a pixel).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.special import erfc

__all__ = [
    "WorldParams", "Fiducial", "Panorama", "default_world", "render_panorama", "sample_panorama",
]

log = logging.getLogger(__name__)

# Band limit: texture whose lattice spacing spans >= _FULL frame pixels is kept whole, < _NONE
# dropped, with a smooth ramp between. Cubic lattice noise has wavelengths down to ~2 spacings, so
# the finest kept wavelength is ~3 px.
_NONE_PX = 1.5
_FULL_PX = 2.5

# Ground texture scales (lattice spacing in metres on the ground plane).
_GROUND_SPACINGS_M = (0.01, 0.04, 0.16, 0.64, 2.56, 10.24, 40.96, 163.84)


@dataclass(frozen=True, slots=True)
class Fiducial:
    """A bright Gaussian spot on a dark pad, at a known SITE_FRAME direction.

    Parameters
    ----------
    azimuth_deg, elevation_deg : float
        Direction of the spot centre in SITE_FRAME (azimuth clockwise from north, elevation up).
    sigma_px : float
        Gaussian sigma in frame pixels (the world's ``pixel_deg``).
    """

    azimuth_deg: float
    elevation_deg: float
    sigma_px: float = 1.5


@dataclass(frozen=True, slots=True)
class WorldParams:
    """Everything that defines a world; :func:`render_panorama` is deterministic in it.

    Parameters
    ----------
    seed : int
        Seed of every random texture.
    pixel_deg : float
        Angular size of one frame pixel of the cameras that will look at the world; it sets the
        band limit (nothing finer than ~3 of these) and the panorama step.
    elevation_range_deg : (float, float)
        Elevations covered by the panorama; directions outside are clamped to the edge rows.
    sun_azimuth_deg, sun_elevation_deg : float
        Sun direction in SITE_FRAME.
    sun_radiance : float
        Radiance of the sun disk in every band. The real disk is ~3e4 W m^-2 sr^-1 nm^-1; it is
        capped so that its band-limited saturated footprint stays a few pixels wide.
    camera_height_m : float
        Height of the eye above the ground plane used to lay out the ground texture.
    haze_distance_m : float
        e-folding distance of the fade of the ground into the horizon haze.
    skyline_mean_deg, skyline_amplitude_deg : float
        Mean elevation of the distant skyline and the amplitude of its irregularity.
    ground_rgb, haze_rgb, sky_horizon_rgb, sky_zenith_rgb, glow_rgb : (float, float, float)
        World-RGB radiances (W m^-2 sr^-1 nm^-1) of the mean ground, the distant haze, the sky
        at the horizon and zenith, and the inner solar glow at the sun.
    fiducials : tuple of Fiducial
        Bright spots at known directions.
    """

    seed: int
    pixel_deg: float
    elevation_range_deg: tuple[float, float] = (-85.0, 65.0)
    sun_azimuth_deg: float = 236.0
    sun_elevation_deg: float = 38.0
    sun_radiance: float = 4.0
    camera_height_m: float = 1.9
    haze_distance_m: float = 900.0
    skyline_mean_deg: float = 1.6
    skyline_amplitude_deg: float = 1.0
    ground_rgb: tuple[float, float, float] = (0.044, 0.028, 0.017)
    haze_rgb: tuple[float, float, float] = (0.047, 0.034, 0.024)
    sky_horizon_rgb: tuple[float, float, float] = (0.036, 0.025, 0.016)
    sky_zenith_rgb: tuple[float, float, float] = (0.013, 0.011, 0.010)
    glow_rgb: tuple[float, float, float] = (0.030, 0.032, 0.036)
    fiducials: tuple[Fiducial, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """JSON-ready dict (the truth manifest's ``world``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "WorldParams":
        """Inverse of :meth:`to_dict`."""
        values = dict(data)
        values["fiducials"] = tuple(Fiducial(**f) for f in values.get("fiducials", ()))
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Panorama:
    """An equirectangular radiance panorama in SITE_FRAME.

    ``data[i, j]`` is the radiance (world RGB, W m^-2 sr^-1 nm^-1) towards azimuth
    ``j * step_deg`` and elevation ``elevation_max_deg - i * step_deg``; the columns cover
    exactly 360 degrees (column ``W`` is column 0).
    """

    data: NDArray[np.float32]
    step_deg: float
    elevation_max_deg: float


def default_world(seed: int, pixel_deg: float) -> WorldParams:
    """The standard world for a seed: sun, colours and twelve fiducials around the horizon.

    Parameters
    ----------
    seed : int
        Texture seed.
    pixel_deg : float
        Frame pixel size in degrees (sets the band limit).
    """
    if pixel_deg <= 0:
        raise ValueError(f"pixel_deg must be positive, got {pixel_deg!r}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    jitter = rng.uniform(-6.0, 6.0, size=12)
    fiducials = tuple(
        Fiducial(
            azimuth_deg=float((15.0 + 30.0 * k + jitter[k]) % 360.0),
            elevation_deg=(-9.0 if k % 2 == 0 else -24.0) + float(rng.uniform(-2.0, 2.0)),
        )
        for k in range(12)
    )
    return WorldParams(seed=seed, pixel_deg=float(pixel_deg), fiducials=fiducials)


def _smoothstep(edge0: float, edge1: float, x: NDArray) -> NDArray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _band_weight(spacing_px: NDArray | float) -> NDArray | float:
    """Weight of a texture scale whose lattice spacing spans ``spacing_px`` frame pixels."""
    return _smoothstep(_NONE_PX, _FULL_PX, np.asarray(spacing_px, dtype=np.float32))


def _lattice_sample(lattice: NDArray[np.float32], u: NDArray[np.float32], v: NDArray[np.float32], *,
                    wrap: bool = False) -> NDArray[np.float32]:
    """Bicubic interpolation of a random lattice at fractional (u=column, v=row) positions."""
    border = cv2.BORDER_WRAP if wrap else cv2.BORDER_REFLECT
    return cv2.remap(lattice, u, v, cv2.INTER_CUBIC, borderMode=border)


def _skyline(params: WorldParams, az_deg: NDArray[np.float64], rng: np.random.Generator) -> NDArray:
    """Skyline elevation (deg) per azimuth: octaves of periodic 1-D cubic noise."""
    out = np.full(az_deg.shape, params.skyline_mean_deg, dtype=np.float64)
    for spacing_deg, amplitude in ((40.0, 1.0), (12.0, 0.55), (4.0, 0.3), (1.2, 0.12), (0.4, 0.05)):
        n = max(4, int(round(360.0 / spacing_deg)))
        knots = rng.standard_normal(n).astype(np.float32)[None, :]
        u = (az_deg / 360.0 * n).astype(np.float32)[None, :]
        values = _lattice_sample(knots, u, np.zeros_like(u), wrap=True)[0]
        weight = _band_weight((360.0 / n) / params.pixel_deg)
        out += params.skyline_amplitude_deg * amplitude * weight * values
    return np.maximum(out, 0.3)


def sky_radiance(params: WorldParams, az: NDArray, el: NDArray) -> NDArray[np.float32]:
    """Sky radiance (H, W, 3) for broadcastable az/el grids in degrees."""
    t = np.clip(np.maximum(el, 0.0) / 70.0, 0.0, 1.0) ** 0.6
    horizon = np.asarray(params.sky_horizon_rgb, np.float32)
    zenith = np.asarray(params.sky_zenith_rgb, np.float32)
    sky = horizon + (zenith - horizon) * t[..., None].astype(np.float32)
    gamma = _angle_to_deg(az, el, params.sun_azimuth_deg, params.sun_elevation_deg)
    inner = np.exp(-gamma / 5.0).astype(np.float32)
    outer = np.exp(-gamma / 30.0).astype(np.float32)
    sky = sky + inner[..., None] * np.asarray(params.glow_rgb, np.float32)
    sky = sky + outer[..., None] * (0.35 * horizon)
    sigma = 0.75 * params.pixel_deg
    radius = 0.175  # apparent solar radius from Mars, deg
    disk = 0.5 * erfc((gamma - radius) / (np.sqrt(2.0) * sigma))
    return (sky + (params.sun_radiance * disk.astype(np.float32))[..., None]).astype(np.float32)


def _angle_to_deg(az: NDArray, el: NDArray, az0: float, el0: float) -> NDArray:
    """Great-circle angle (deg) between (az, el) and (az0, el0), all in degrees."""
    a, e = np.radians(az), np.radians(el)
    a0, e0 = np.radians(az0), np.radians(el0)
    cos_g = np.sin(e) * np.sin(e0) + np.cos(e) * np.cos(e0) * np.cos(a - a0)
    return np.degrees(np.arccos(np.clip(cos_g, -1.0, 1.0)))


def _draw_blobs(size: int, centres: NDArray, sigma_cells: float,
                amplitude: NDArray) -> NDArray[np.float32]:
    """Sum of Gaussian blobs (sigma in raster cells) at fractional (u, v) centres."""
    impulses = np.zeros((size, size), np.float32)
    iu = np.clip(np.round(centres[:, 0]).astype(int), 0, size - 1)
    iv = np.clip(np.round(centres[:, 1]).astype(int), 0, size - 1)
    np.add.at(impulses, (iv, iu), amplitude.astype(np.float32))
    blurred = cv2.GaussianBlur(impulses, (0, 0), sigma_cells, borderType=cv2.BORDER_CONSTANT)
    return blurred * np.float32(2.0 * np.pi * sigma_cells**2)  # unit peak per blob


def _ground_layer(params: WorldParams, spacing_m: float, extent_m: float,
                  rng: np.random.Generator) -> NDArray[np.float32]:
    """One ground texture scale: a (N, N, 2) lattice of (brightness, redness) deltas.

    The lattice covers [-extent, extent]^2 metres (north, east) at ``spacing_m``; it is read with
    bicubic interpolation, so drawn features span >= 2 cells.
    """
    size = int(np.ceil(2.0 * extent_m / spacing_m)) + 4
    bright = 0.07 * rng.standard_normal((size, size)).astype(np.float32)
    red = 0.06 * rng.standard_normal((size, size)).astype(np.float32)
    # Rocks: dark basalt (greyer) and light-toned ones, each with a shadow away from the sun.
    n_rocks = int(size * size / 900) if spacing_m <= 0.16 else 0  # rocks up to ~0.5 m across
    if n_rocks:
        sun_az = np.radians(params.sun_azimuth_deg)
        away = -np.array([np.sin(sun_az), np.cos(sun_az)])  # (u=east, v=north) raster axes
        shadow_len = 1.0 / np.tan(np.radians(params.sun_elevation_deg))
        for sigma in (2.0, 3.5):
            centres = rng.uniform(0, size, size=(n_rocks // 2, 2))
            kind = rng.random(n_rocks // 2) < 0.75
            amp_b = np.where(kind, -0.55, 0.45) * rng.uniform(0.6, 1.0, n_rocks // 2)
            amp_r = np.where(kind, -0.25, -0.1)
            bright += _draw_blobs(size, centres, sigma, amp_b)
            red += _draw_blobs(size, centres, sigma, amp_r)
            shadow_centres = centres + away * sigma * (1.2 + 0.6 * shadow_len)
            bright += _draw_blobs(size, shadow_centres, sigma, np.full(n_rocks // 2, -0.35))
    # Ripples: sinusoids in patches, wavelength 5-8 cells, on mid scales only.
    if 0.02 <= spacing_m <= 0.7:
        vv, uu = np.mgrid[0:size, 0:size].astype(np.float32)
        theta = rng.uniform(0, np.pi)
        wavelength = rng.uniform(5.0, 8.0)
        phase = (uu * np.cos(theta) + vv * np.sin(theta)) * (2 * np.pi / wavelength)
        patch_lattice = rng.standard_normal((size // 24 + 4, size // 24 + 4)).astype(np.float32)
        patches = cv2.resize(patch_lattice, (size, size), interpolation=cv2.INTER_CUBIC)
        mask = _smoothstep(0.3, 1.0, patches).astype(np.float32)
        bright += 0.12 * mask * np.sin(phase).astype(np.float32)
        red += 0.05 * mask
    # Craters: bright rims, darker floors, a shadowed inner wall, on coarse scales only.
    if spacing_m >= 0.16 and size >= 80:
        vv, uu = np.mgrid[0:size, 0:size].astype(np.float32)
        for _ in range(3):
            cu, cv_ = rng.uniform(0.2 * size, 0.8 * size, 2)
            radius = rng.uniform(0.04, 0.1) * size
            r = np.hypot(uu - cu, vv - cv_)
            bright += 0.35 * np.exp(-(((r - radius) / 1.6) ** 2)).astype(np.float32)
            bright -= 0.25 * _smoothstep(radius, radius - 3.0, r).astype(np.float32)
    return np.dstack([bright, red]).astype(np.float32)


def _fiducials(params: WorldParams, az: NDArray, el: NDArray,
               base: NDArray[np.float32]) -> NDArray[np.float32]:
    """Paint the fiducials (dark pads with bright spots) over ``base`` (H, W, 3)."""
    out = base
    pad_rgb = np.array([0.016, 0.014, 0.013], np.float32)
    spot_rgb = np.array([0.085, 0.080, 0.075], np.float32)
    for f in params.fiducials:
        sigma_deg = f.sigma_px * params.pixel_deg
        # Work in a window of rows/columns around the fiducial.
        half = 10.0 * sigma_deg
        rows = np.nonzero(np.abs(el[:, 0] - f.elevation_deg) <= half)[0]
        if rows.size == 0:
            continue
        col_half = half / max(np.cos(np.radians(abs(f.elevation_deg) + half)), 1e-3)
        daz = (az[0, :] - f.azimuth_deg + 180.0) % 360.0 - 180.0
        cols = np.nonzero(np.abs(daz) <= col_half)[0]
        sub = np.ix_(rows, cols)
        gamma = _angle_to_deg(az[0, cols][None, :], el[rows, 0][:, None],
                              f.azimuth_deg, f.elevation_deg)
        pad = _smoothstep(8.0 * sigma_deg, 5.0 * sigma_deg, gamma).astype(np.float32)[..., None]
        spot = np.exp(-0.5 * (gamma / sigma_deg) ** 2).astype(np.float32)[..., None]
        out[sub] = out[sub] * (1.0 - pad) + pad * pad_rgb + spot * spot_rgb
    return out


def render_panorama(params: WorldParams) -> Panorama:
    """Render the world as an equirectangular radiance panorama.

    Parameters
    ----------
    params : WorldParams
        The world; its ``pixel_deg`` is also the panorama step (one sample per frame pixel: the
        content is band-limited to >= 3 px, so bilinear sampling keeps it).

    Returns
    -------
    Panorama
        float32 radiance, world RGB, W m^-2 sr^-1 nm^-1, rows from ``elevation_range_deg[1]``
        down, columns from azimuth 0 clockwise.
    """
    el_min, el_max = params.elevation_range_deg
    if not (-90.0 <= el_min < el_max <= 90.0):
        raise ValueError("elevation_range_deg must satisfy -90 <= min < max <= 90, "
                         f"got {params.elevation_range_deg!r}")
    width = int(round(360.0 / params.pixel_deg))
    step = 360.0 / width
    height = int(np.floor((el_max - el_min) / step)) + 1
    rng = np.random.default_rng(np.random.SeedSequence([params.seed, 11]))
    az_1d = np.arange(width) * step
    el_1d = el_max - np.arange(height) * step
    az = az_1d[None, :]
    el = el_1d[:, None]

    skyline = _skyline(params, az_1d, rng)
    out = np.empty((height, width, 3), np.float32)

    # Sky above the lowest skyline point, hills and ground below, blended across the skyline.
    sky_rows = el_1d > (skyline.min() - 3.0 * step)
    out[sky_rows] = sky_radiance(params, az, el[sky_rows])
    ground_rows = el_1d < skyline.max() + 3.0 * step
    below = _below_skyline(params, az_1d, el_1d[ground_rows], rng)
    blend = _smoothstep(1.5 * step, -1.5 * step, el_1d[ground_rows][:, None] - skyline[None, :])
    blend = blend.astype(np.float32)[..., None]
    only_ground = ground_rows & ~sky_rows
    both = ground_rows & sky_rows
    out[only_ground] = below[only_ground[ground_rows]]
    mix = blend[both[ground_rows]]
    out[both] = out[both] * (1.0 - mix) + below[both[ground_rows]] * mix

    out = _fiducials(params, np.broadcast_to(az, (height, width)),
                     np.broadcast_to(el, (height, width)), out)
    log.debug("panorama %dx%d at %.4f deg/px", width, height, step)
    return Panorama(data=out, step_deg=step, elevation_max_deg=float(el_max))


def _below_skyline(params: WorldParams, az_1d: NDArray, el_1d: NDArray,
                   rng: np.random.Generator) -> NDArray[np.float32]:
    """Ground and distant hills for the given rows (R, W, 3)."""
    step = az_1d[1] - az_1d[0]
    height, width = el_1d.size, az_1d.size
    haze = np.asarray(params.haze_rgb, np.float32)
    ground = np.asarray(params.ground_rgb, np.float32)

    # Distant hills (el >= 0): haze colour with low-contrast angular texture, darker low down.
    hill_lattice = rng.standard_normal((int(height / 3) + 4, int(width / 3) + 4)).astype(np.float32)
    uu = np.broadcast_to((np.arange(width) / 3.0).astype(np.float32)[None, :], (height, width))
    vv = np.broadcast_to((np.arange(height) / 3.0).astype(np.float32)[:, None], (height, width))
    hill_weight = _band_weight(3.0 * step / params.pixel_deg)
    hill_tex = 1.0 + 0.05 * hill_weight * _lattice_sample(hill_lattice, uu, vv)
    out = np.empty((height, width, 3), np.float32)
    # Darker up the hills; equal to the haze at el 0, where the ground has faded into it.
    darker_up = 1.0 - 0.08 * _smoothstep(0.0, 1.0, el_1d)[:, None]
    out[:] = haze * (darker_up * hill_tex)[..., None]

    rows = el_1d < 0.0
    if not rows.any():
        return out
    el_g = np.radians(-el_1d[rows])[:, None]
    az_r = np.radians(az_1d)[None, :]
    h = params.camera_height_m
    dist = (h / np.tan(el_g)).astype(np.float64)  # horizontal distance of the ground point, m
    north = (dist * np.cos(az_r)).astype(np.float32)
    east = (dist * np.sin(az_r)).astype(np.float32)
    pixel_rad = np.radians(params.pixel_deg)
    # rad per metre of ground along the line of sight (foreshortening)
    radial_scale = (h / (dist**2 + h**2)).astype(np.float32)

    bright = np.zeros(north.shape, np.float32)
    red = np.zeros(north.shape, np.float32)
    for spacing in _GROUND_SPACINGS_M:
        # Farthest distance where this scale still spans _NONE_PX pixels along the line of sight.
        reach = np.sqrt(max(spacing * h / (_NONE_PX * pixel_rad) - h * h, 0.0))
        if reach <= 0.0:
            continue
        weight = _band_weight(spacing * radial_scale[:, 0] / pixel_rad)  # per row (distance)
        active = weight > 0
        if not active.any():
            continue
        layer = _ground_layer(params, spacing, reach, rng)
        u = ((east[active] + reach) / spacing).astype(np.float32)
        v = ((north[active] + reach) / spacing).astype(np.float32)
        sampled = cv2.remap(layer, u, v, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=0)
        w = weight[active][:, None]
        bright[active] += w * sampled[..., 0]
        red[active] += w * sampled[..., 1]
    tint = np.stack([1.0 + 0.6 * red, np.ones_like(red), 1.0 - 0.8 * red], axis=-1)
    albedo = ground * tint * np.clip(1.0 + bright, 0.15, None)[..., None]
    fade = np.exp(-dist / params.haze_distance_m).astype(np.float32)[..., None]
    out[rows] = albedo * fade + haze * (1.0 - fade)
    return out


def sample_panorama(panorama: Panorama, azimuth_deg: NDArray,
                    elevation_deg: NDArray) -> NDArray[np.float32]:
    """Bilinear radiance at SITE_FRAME azimuth/elevation, wrapping in azimuth.

    Parameters
    ----------
    panorama : Panorama
    azimuth_deg, elevation_deg : array_like, same shape S
        Degrees; elevations outside the panorama are clamped to its edge rows.

    Returns
    -------
    ndarray of float32, shape S + (3,)
        World-RGB radiance, W m^-2 sr^-1 nm^-1.
    """
    az = np.asarray(azimuth_deg)
    el = np.asarray(elevation_deg)
    if az.shape != el.shape:
        raise ValueError(f"azimuth and elevation shapes differ: {az.shape} vs {el.shape}")
    height, width = panorama.data.shape[:2]
    # float32 maps are what OpenCV takes; 1e-4 px at a 5000-px width.
    inv_step = np.float32(1.0 / panorama.step_deg)
    x = np.mod(az, 360.0).astype(np.float32) * inv_step
    y = (np.float32(panorama.elevation_max_deg) - el.astype(np.float32)) * inv_step
    np.clip(y, 0.0, height - 1, out=y)
    x[x >= width] -= width  # mod() can round up to exactly 360
    shape = az.shape
    if az.ndim == 2 and max(shape) < 32767:
        return cv2.remap(panorama.data, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    flat_x, flat_y = x.ravel(), y.ravel()
    n = flat_x.size
    if n == 0:
        return np.zeros(shape + (3,), np.float32)
    cols = 4096
    rows = -(-n // cols)
    pad = rows * cols - n
    xf = np.concatenate([flat_x, np.zeros(pad, np.float32)]).reshape(rows, cols)
    yf = np.concatenate([flat_y, np.zeros(pad, np.float32)]).reshape(rows, cols)
    out = cv2.remap(panorama.data, xf, yf, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    return out.reshape(rows * cols, 3)[:n].reshape(shape + (3,))
