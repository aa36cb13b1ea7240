"""Camera tables: the generator's calibration of each synthetic camera, written beside the sol.

A generated sol carries its own calibration under ``calibration/``: inverse LUTs in ``luts/``,
flats in ``flats/`` and one camera table per camera it used in ``cameras/<camera>.toml`` (lower
case INSTRUMENT_ID). The pipeline finds them on its calibration search path (the sol's own
``calibration/`` first), so it calibrates a generated sol with exactly the values that made it,
and the shipped configuration holds only real calibration.

A table holds these keys and no others (the pipeline's camera record forbids unknown keys):
``instrument_id``, ``mission``, ``code``, ``name``, ``aliases``, ``detector_samples``,
``detector_lines``, ``bits``, ``cfa_pattern`` (omitted for a monochrome camera), ``lut_prefix``,
``luts``, ``bias_dn``, ``flat``, ``stereo_partner`` (when the camera has one), ``radiometry``
(``"absolute"``: the generator knows its responsivity), ``radiometry_source``,
``responsivity`` (DN s^-1 per W m^-2 sr^-1 nm^-1, R, G, B; three equal numbers for one band),
``xyz_from_camera`` (colour cameras only), ``read_noise_dn``, ``gain_e_per_dn``,
``display_white_radiance`` and ``synthetic = true``.
"""
from __future__ import annotations

import json
from pathlib import Path

from rovercam.synth.cameras import CAMERAS, CameraSpec
from rovercam.synth.sensor import SensorSpec

__all__ = ["camera_table", "write_camera_table", "camera_table_path", "RADIOMETRY_SOURCE"]

#: ``radiometry_source`` of every generated table.
RADIOMETRY_SOURCE = "synthetic: rovercam.synth generator values (made up, not a calibration)"


def _str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _num(value: float) -> str:
    return repr(float(value))  # 4600000.0, 1.3e-05: valid TOML floats, exact round trip


def camera_table_path(instrument_id: str) -> str:
    """Path of a camera's table relative to the sol's ``calibration/`` folder."""
    return f"cameras/{instrument_id.lower()}.toml"


def camera_table(spec: SensorSpec, *, cam: CameraSpec | None = None) -> str:
    """The TOML text of one camera's table.

    Parameters
    ----------
    spec : SensorSpec
        The sensor model the generator exposed the frames with.
    cam : CameraSpec, optional
        Its static description (mission, name, bits, stereo partner, display white); default
        ``CAMERAS[spec.instrument_id]``.

    Returns
    -------
    str
        TOML; ``tomllib.loads`` gives exactly the keys of the module docstring.
    """
    cam = CAMERAS[spec.instrument_id] if cam is None else cam
    lines = [
        f"# {cam.name or cam.instrument_id}: synthetic camera table written by rovercam.synth.",
        "# Made-up values of the right order of magnitude; the generator exposed this sol's",
        "# frames with exactly these numbers.",
        f"instrument_id = {_str(spec.instrument_id)}",
        f"mission = {_str(cam.mission)}",
        f"code = {_str(spec.code)}",
        f"name = {_str(cam.name or spec.instrument_id)}",
        "aliases = []",
        f"detector_samples = {int(spec.detector_samples)}",
        f"detector_lines = {int(spec.detector_lines)}",
        f"bits = {int(cam.bits)}",
    ]
    if spec.cfa_pattern is not None and cam.cfa is not None:
        lines.append(f"cfa_pattern = {_str(spec.cfa_pattern)}")
    else:
        lines.append("# monochrome detector: no cfa_pattern")
    lines.append(f"lut_prefix = {_str(spec.lut_prefix)}")
    if spec.lut_name is None:
        lines += ["# DN are not companded (SAMPLE_BIT_METHOD NONE): no inverse LUT", "luts = {}"]
    else:
        lines.append(f"luts = {{{spec.lut_mode} = {_str(spec.lut_name)}}}")
    lines += [
        f"bias_dn = {_num(spec.bias_dn)}",
        f"flat = {_str(spec.flat)}",
    ]
    if cam.stereo_partner is not None:
        lines.append(f"stereo_partner = {_str(cam.stereo_partner)}")
    lines += [
        'radiometry = "absolute"',
        f"radiometry_source = {_str(RADIOMETRY_SOURCE)}",
        "# DN s^-1 per W m^-2 sr^-1 nm^-1 at full aperture, camera R, G, B"
        + (" (one band: all equal)" if spec.panchromatic is not None else ""),
        "responsivity = [" + ", ".join(_num(v) for v in spec.responsivity) + "]",
    ]
    if spec.panchromatic is not None:
        w = ", ".join(f"{v:g}" for v in spec.panchromatic)
        lines.append(f"# one band: L_gray = ({w}) @ world RGB radiance (linear sRGB primaries)")
    elif spec.xyz_from_camera is not None and cam.cfa is not None:
        lines.append("# camera RGB -> CIE XYZ (D65); undoes the synthetic spectral crosstalk")
        lines.append("xyz_from_camera = [")
        lines += ["    [" + ", ".join(_num(v) for v in row) + "]," for row in spec.xyz_from_camera]
        lines.append("]")
    else:
        lines.append("# monochrome: one band, no colour calibration (no xyz_from_camera)")
    lines += [
        f"read_noise_dn = {_num(spec.read_noise_dn)}",
        f"gain_e_per_dn = {_num(spec.gain_e_per_dn)}",
        f"display_white_radiance = {_num(cam.display_white_radiance)}",
        "synthetic = true",
    ]
    return "\n".join(lines) + "\n"


def write_camera_table(calibration_dir: Path, spec: SensorSpec, *,
                       cam: CameraSpec | None = None) -> Path:
    """Write ``calibration_dir/cameras/<instrument_id lower>.toml``; returns its path."""
    path = Path(calibration_dir) / camera_table_path(spec.instrument_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(camera_table(spec, cam=cam))
    return path
