"""MSL naming and clock for the heritage profiles: engineering-camera product ids and SCLK.

MSL engineering-camera (OPGS) product ids, e.g. ``NLB_431397159EDR_F0141262NCAM00530M1``
(MSL camera EDR/RDR SIS; the layout :func:`rovercam.products.parse_product_id` reads):
instrument (2: NL, NR, FL, ...), flight string (A/B), special flag, SCLK seconds (9), product
type (EDR), geometry (``_`` raw, L linearized), sampling (F full frame, S subframe, D
downsampled, T thumbnail), site (3), drive (4), sequence (9), producer (M = MIPL), version (1).

MSL and Mars 2020 count SCLK seconds from the same epoch (2000-01-01T11:58:55.816 UTC):
NRB_701384494RAD_F0933408NCAM00200M1 has SCLK 701384494.811 at START_TIME
2022-03-24T09:51:32.577 and LMST Sol-03423M17:05:43.460, which fixes the SCLK of local mean
midnight that starts MSL sol 0 (:data:`MSL_SCLK_SOL0`).
"""
from __future__ import annotations

import re

__all__ = ["format_msl_id", "msl_sclk", "MSL_SCLK_SOL0"]

#: One Mars solar day, seconds.
_SOL_S = 88775.244
#: SCLK (s) of local mean midnight starting MSL sol 0, from NRB_701384494RAD_F0933408NCAM00200M1
#: (SCLK 701384494.811 at LMST 17:05:43.460 on sol 3423; one LMST second = sol/86400 s).
MSL_SCLK_SOL0 = 701384494.811 - 3423 * _SOL_S - (17 * 3600 + 5 * 60 + 43.460) * _SOL_S / 86400.0
_CODES = {"NAV_LEFT": "NL", "NAV_RIGHT": "NR", "FHAZ_LEFT": "FL", "FHAZ_RIGHT": "FR",
          "RHAZ_LEFT": "RL", "RHAZ_RIGHT": "RR"}
_ID = re.compile(r"[A-Z]{2}[AB_][A-Z0-9_]\d{9}[A-Z0-9]{3}[A-Z0-9_]{2}[A-Z0-9]{3}[A-Z0-9]{4}"
                 r"[A-Z0-9_]{9}[A-Z_][A-Z0-9]")


def msl_sclk(sol: int, lmst_hours: float, seconds_after: float = 0.0) -> float:
    """MSL SCLK seconds (rounded to ms) at ``lmst_hours`` of ``sol`` plus ``seconds_after``."""
    return round(MSL_SCLK_SOL0 + sol * _SOL_S + lmst_hours * 3600.0 * _SOL_S / 86400.0
                 + seconds_after, 3)


def format_msl_id(*, instrument: str, sclk: float, site: int, drive: int, sequence: str,
                  product_type: str = "EDR", special: str = "_", geometry: str = "_",
                  sampling: str = "F", producer: str = "M", version: int = 1) -> str:
    """Build an MSL engineering-camera product id (36 characters).

    Parameters
    ----------
    instrument : str
        INSTRUMENT_ID with its flight string, ``"NAV_LEFT_B"``.
    sclk : float
        Spacecraft clock seconds (the id keeps whole seconds, 9 digits).
    site, drive : int
        0-999, 0-9999.
    sequence : str
        Up to 9 characters (padded with ``_``), e.g. ``"NCAM00530"``.

    Raises
    ------
    ValueError
        An unknown instrument or a field out of range.

    Examples
    --------
    >>> format_msl_id(instrument="NAV_LEFT_B", sclk=431397159.601, site=14, drive=1262,
    ...               sequence="NCAM00530")
    'NLB_431397159EDR_F0141262NCAM00530M1'
    """
    base, _, string = instrument.upper().rpartition("_")
    if base not in _CODES or string not in ("A", "B"):
        raise ValueError(f"unknown MSL engineering camera {instrument!r} (known: "
                         f"{', '.join(k + '_A/B' for k in _CODES)})")
    if not 0 <= site <= 999 or not 0 <= drive <= 9999 or not 0 <= version <= 9:
        raise ValueError(f"site/drive/version out of range: {site}/{drive}/{version}")
    seconds = int(sclk)
    if not 0 <= seconds < 10**9:
        raise ValueError(f"sclk {sclk} does not fit 9 digits")
    seq = sequence.upper().ljust(9, "_")
    pid = (f"{_CODES[base]}{string}{special}{seconds:09d}{product_type}{geometry}{sampling}"
           f"{site:03d}{drive:04d}{seq}{producer}{version}").upper()
    if _ID.fullmatch(pid) is None:
        raise ValueError(f"fields do not make a valid MSL engineering-camera id: {pid}")
    return pid
