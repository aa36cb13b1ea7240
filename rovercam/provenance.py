"""Provenance: what went into an artefact, recorded with every published product.

ARCHITECTURE.md: "Every published artefact records its provenance: input product ids and
checksums, software version, configuration hash, calibration files used."
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Provenance", "sha256_file", "sha256_bytes"]


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
    """

    inputs: dict[str, str] = field(default_factory=dict)
    calibration: dict[str, str] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    software_version: str = ""
    config_hash: str = ""

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Provenance":
        return cls(**d)

    def merged(self, other: "Provenance") -> "Provenance":
        """Union of two provenances (inputs and calibration merged, steps deduplicated in order)."""
        steps = list(dict.fromkeys([*self.steps, *other.steps]))
        return Provenance(
            inputs={**self.inputs, **other.inputs},
            calibration={**self.calibration, **other.calibration},
            steps=steps,
            software_version=self.software_version or other.software_version,
            config_hash=self.config_hash or other.config_hash,
        )
