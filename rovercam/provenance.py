"""Provenance: what went into an artefact, recorded with every published product.

Every published artefact records its provenance: input product ids and checksums, software
version, configuration hash, calibration files used.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Provenance", "CalibrationLevel", "LEVEL_NAMES", "sha256_file", "sha256_bytes"]

#: Calibration levels (docs/calibration.md): what a frame's values are.
LEVEL_NAMES = {
    0: "raw",           # values as stored (companded codes, or DN with nothing applied)
    1: "linear",        # linear DN (decompanded, bias removed), not flat-fielded
    2: "flat-fielded",  # flat-fielded, relative (DN/s): no absolute responsivity
    3: "absolute",      # radiance or I/F in physical units
}


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class CalibrationLevel:
    """How far a frame (or the frames of a mosaic) got calibrated, and what was missing.

    Attributes
    ----------
    level : int
        0 raw, 1 linear, 2 flat-fielded (relative), 3 absolute (:data:`LEVEL_NAMES`).
    units : str
        Units of the values, e.g. ``"W m-2 sr-1 nm-1"``, ``"DN s-1"`` (relative), ``"DN"``.
    missing : tuple of str
        What was not available, in words (``"flat field"``, ``"absolute responsivity"``).
    """

    level: int
    units: str
    missing: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The level's name, ``"flat-fielded"`` for 2."""
        return LEVEL_NAMES[self.level]

    def describe(self) -> str:
        """One line: ``"2 flat-fielded (DN s-1); missing: absolute responsivity"``."""
        text = f"{self.level} {self.name} ({self.units})"
        return text + ("; missing: " + ", ".join(self.missing) if self.missing else "")

    def tags(self) -> dict[str, str]:
        """GeoTIFF tags stating the level: CALIBRATION_LEVEL, UNITS, CALIBRATION_MISSING."""
        return {"CALIBRATION_LEVEL": f"{self.level} {self.name}", "UNITS": self.units,
                "CALIBRATION_MISSING": "; ".join(self.missing) or "none"}

    def to_dict(self) -> dict:
        return {"level": self.level, "name": self.name, "units": self.units, "missing": list(self.missing)}

    @classmethod
    def from_dict(cls, d: dict) -> "CalibrationLevel":
        return cls(int(d["level"]), str(d["units"]), tuple(d.get("missing", ())))

    def combined(self, other: "CalibrationLevel") -> "CalibrationLevel":
        """The level of frames taken together: the lowest level, every missing piece."""
        units = self.units if self.units == other.units else f"mixed ({self.units}; {other.units})"
        return CalibrationLevel(min(self.level, other.level), units,
                                tuple(dict.fromkeys([*self.missing, *other.missing])))


@dataclass(slots=True)
class Provenance:
    """Inputs and processing behind an artefact.

    Attributes
    ----------
    inputs : dict of str -> str
        Input product id -> sha256 of the product file as ingested.
    calibration : dict of str -> str
        Calibration file name (as found on the calibration search path) -> sha256.
    steps : list of str
        Processing steps in order, each a short ``"name: detail"`` string, e.g.
        ``"decompand: M20_LUT2"``.
    software_version : str
        ``rovercam.__version__``.
    config_hash : str
        sha256 of the effective configuration (``Settings.config_hash``).
    level : CalibrationLevel or None
        The calibration level of the values (set by the frame chain), None before calibration.
    """

    inputs: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    software_version: str = ""
    config_hash: str = ""
    level: CalibrationLevel | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        out = asdict(self)
        out["level"] = None if self.level is None else self.level.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "Provenance":
        level = d.get("level")
        return cls(**{**d, "level": None if level is None else CalibrationLevel.from_dict(level)})

    def merged(self, other: "Provenance") -> "Provenance":
        """Union of two provenances (inputs and calibration merged, steps deduplicated in order)."""
        steps = list(dict.fromkeys([*self.steps, *other.steps]))
        return Provenance(
            inputs={**self.inputs, **other.inputs},
            calibration={**self.calibration, **other.calibration},
            steps=steps,
            software_version=self.software_version or other.software_version,
            config_hash=self.config_hash or other.config_hash,
            level=other.level if self.level is None else (
                self.level if other.level is None else self.level.combined(other.level)),
        )
