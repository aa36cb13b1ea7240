"""Product identifiers: parse Mars 2020, MSL and MER product ids, and build Mars 2020 ones.

Field positions: docs/products.md (from the Mars 2020 camera EDR/RDR SIS and NASA-AMMOS/VICAR
M2020EngCamVicarLabel.h for Mars 2020; the MSL and MER camera SIS layouts). Parsing is
case-insensitive (MER file names are lower case, their PRODUCT_ID upper case); the id is kept upper
case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rovercam.errors import ProductError

__all__ = ["ProductId", "parse_product_id", "format_m2020_id", "M2020_INSTRUMENTS",
           "decode_mer_counter"]

#: Mars 2020 two-letter file codes -> INSTRUMENT_ID (docs/products.md#mars-2020-instrument-codes;
#: the B-string and EDL codes are unverified and kept consistent with the synthetic generator).
M2020_INSTRUMENTS: dict[str, str] = {
    "NL": "NAVCAM_LEFT", "NR": "NAVCAM_RIGHT",
    "FL": "FRONT_HAZCAM_LEFT_A", "FR": "FRONT_HAZCAM_RIGHT_A",
    "BL": "FRONT_HAZCAM_LEFT_B", "BR": "FRONT_HAZCAM_RIGHT_B",
    "RL": "REAR_HAZCAM_LEFT", "RR": "REAR_HAZCAM_RIGHT",
    "ZL": "MCZ_LEFT", "ZR": "MCZ_RIGHT",
    "CC": "CACHECAM", "LR": "SUPERCAM_RMI", "SI": "SHERLOC_WATSON", "SC": "SHERLOC_ACI",
    "PC": "PIXL_MCC", "WS": "SKYCAM", "HN": "HELI_NAV", "HS": "HELI_RTE", "EL": "LCAM",
    "EA": "EDL_PUCAM1", "EB": "EDL_PUCAM2", "EC": "EDL_PUCAM3", "ED": "EDL_DDCAM",
    "ES": "EDL_RDCAM", "EU": "EDL_RUCAM",
}
_M2020_CODES = {v: k for k, v in M2020_INSTRUMENTS.items()}

_MSL_ENG = {"FL": "FHAZ_LEFT", "FR": "FHAZ_RIGHT", "RL": "RHAZ_LEFT", "RR": "RHAZ_RIGHT",
            "NL": "NAV_LEFT", "NR": "NAV_RIGHT", "CC": "CHEMCAM_RMI"}
_MSL_MMM = {"ML": "MAST_LEFT", "MR": "MAST_RIGHT", "MH": "MAHLI", "MD": "MARDI"}
_MER_CAMERAS = {"F": "FRONT_HAZCAM", "R": "REAR_HAZCAM", "N": "NAVCAM", "P": "PANCAM",
                "M": "MI", "E": "DESCENT_CAMERA"}

_M2020 = re.compile(
    r"(?P<inst>[A-Z]{2})(?P<filter>[A-Z0-9_])(?P<special>[A-Z0-9_])(?P<sol>\d{4})"
    r"(?P<venue>[A-Z0-9_])(?P<sclk>\d{10})_(?P<ms>\d{3})(?P<ptype>[A-Z0-9]{3})"
    r"(?P<geometry>[A-Z0-9_])(?P<sampling>[A-Z0-9_])(?P<site>[A-Z0-9]{3})(?P<drive>[A-Z0-9]{4})"
    r"(?P<seq>[A-Z0-9_]{9})_(?P<cam>[A-Z0-9_]{4})(?P<comp>[A-Z0-9]{2})(?P<producer>[A-Z_])"
    r"(?P<version>[A-Z0-9]{2})"
)
_MSL_ENGINEERING = re.compile(
    r"(?P<inst>[A-Z]{2})(?P<string>[AB_])(?P<special>[A-Z0-9_])(?P<sclk>\d{9})"
    r"(?P<ptype>[A-Z0-9]{3})(?P<geometry>[A-Z0-9_])(?P<sampling>[A-Z0-9_])"
    r"(?P<site>[A-Z0-9]{3})(?P<drive>[A-Z0-9]{4})(?P<seq>[A-Z0-9_]{9})(?P<producer>[A-Z_])"
    r"(?P<version>[A-Z0-9])"
)
_MSL_MMM_ID = re.compile(
    r"(?P<sol>\d{4})(?P<inst>M[LRHD])(?P<seq>[0-9A-Z]{9})(?P<counter>\d{2})(?P<cdpid>\d{5})"
    r"(?P<ptype>[A-Z])(?P<gop>[0-9A-Z])(?P<version>[0-9A-Z])_(?P<proc>[A-Z]{4})"
)
_MER = re.compile(
    r"(?P<sc>[12])(?P<cam>[FRNPME])(?P<sclk>\d{9})(?P<ptype>[A-Z]{3})(?P<site>[A-Z0-9]{2})"
    r"(?P<drive>[A-Z0-9]{2})(?P<seq>[A-Z0-9]{5})(?P<eye>[LRN_])(?P<filter>[0-9A-Z])"
    r"(?P<producer>[A-Z])(?P<version>[0-9A-Z])"
)


@dataclass(frozen=True, slots=True)
class ProductId:
    """The fields of a product id. Fields a mission's naming lacks are None."""

    product_id: str
    mission: str  # "M2020", "MSL", "MER"
    instrument: str  # INSTRUMENT_ID as labels write it, e.g. "NAVCAM_LEFT", "FHAZ_LEFT_B"
    instrument_code: str
    product_type: str
    sclk: float | None = None
    sol: int | None = None
    site: int | None = None
    drive: int | None = None
    sequence: str | None = None
    filter: str | None = None
    special: str | None = None
    venue: str | None = None
    geometry: str | None = None
    sampling: str | None = None
    camera_specific: str | None = None
    compression: str | None = None
    producer: str | None = None
    version: str | None = None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def decode_mer_counter(code: str) -> int | None:
    """MER two-character site/drive code: "00".."99", then "A0".."ZZ" = 100 + 36*letter + digit36."""
    if code.isdigit():
        return int(code)
    first, second = code[0], code[1]
    if not first.isalpha():
        return None
    second_value = int(second) if second.isdigit() else 10 + ord(second) - ord("A")
    return 100 + 36 * (ord(first) - ord("A")) + second_value


def parse_product_id(pid: str) -> ProductId:
    """Split a product id into its fields.

    Parameters
    ----------
    pid : str
        A Mars 2020 (54 characters), MSL engineering-camera (36), MSL Mastcam/MAHLI/MARDI (30) or
        MER (27) product id, with or without a file extension.

    Returns
    -------
    ProductId

    Raises
    ------
    rovercam.errors.ProductError
        When the id matches none of these layouts.

    Examples
    --------
    >>> p = parse_product_id("NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01")
    >>> p.instrument, p.sol, p.sclk, p.site, p.drive, p.sequence
    ('NAVCAM_LEFT', 100, 675828717.276, 4, 218, 'NCAM00503')
    """
    text = str(pid).strip().upper()
    text = text.split(".", 1)[0]
    m = _M2020.fullmatch(text)
    if m and m["inst"] in M2020_INSTRUMENTS:
        return ProductId(
            product_id=text, mission="M2020", instrument=M2020_INSTRUMENTS[m["inst"]],
            instrument_code=m["inst"], product_type=m["ptype"],
            sclk=int(m["sclk"]) + int(m["ms"]) / 1000.0, sol=int(m["sol"]),
            site=_int_or_none(m["site"]), drive=_int_or_none(m["drive"]), sequence=m["seq"],
            filter=m["filter"], special=m["special"], venue=m["venue"], geometry=m["geometry"],
            sampling=m["sampling"], camera_specific=m["cam"], compression=m["comp"],
            producer=m["producer"], version=m["version"])
    m = _MSL_ENGINEERING.fullmatch(text)
    if m and m["inst"] in _MSL_ENG:
        base = _MSL_ENG[m["inst"]]
        instrument = f"{base}_{m['string']}" if m["string"] in "AB" else base
        return ProductId(
            product_id=text, mission="MSL", instrument=instrument, instrument_code=m["inst"],
            product_type=m["ptype"], sclk=float(m["sclk"]), site=_int_or_none(m["site"]),
            drive=_int_or_none(m["drive"]), sequence=m["seq"], special=m["special"],
            geometry=m["geometry"], sampling=m["sampling"], producer=m["producer"],
            version=m["version"])
    m = _MSL_MMM_ID.fullmatch(text)
    if m:
        return ProductId(
            product_id=text, mission="MSL", instrument=_MSL_MMM[m["inst"]],
            instrument_code=m["inst"], product_type=m["proc"], sol=int(m["sol"]),
            sequence=m["seq"], compression=m["ptype"], version=m["version"])
    m = _MER.fullmatch(text)
    if m:
        camera = _MER_CAMERAS[m["cam"]]
        eye = {"L": "_LEFT", "R": "_RIGHT"}.get(m["eye"], "")
        return ProductId(
            product_id=text, mission="MER", instrument=camera + eye,
            instrument_code=m["cam"], product_type=m["ptype"], sclk=float(m["sclk"]),
            site=decode_mer_counter(m["site"]), drive=decode_mer_counter(m["drive"]),
            sequence=m["seq"], filter=m["filter"], producer=m["producer"],
            version=m["version"], special=m["sc"])
    raise ProductError(str(pid), "not a Mars 2020, MSL or MER product id")


def format_m2020_id(
    *,
    instrument: str,
    sol: int,
    sclk: float,
    site: int,
    drive: int,
    sequence: str,
    product_type: str = "ECM",
    filter: str = "F",
    special: str = "_",
    venue: str = "_",
    geometry: str = "_",
    sampling: str = "N",
    camera_specific: str = "01_0",
    compression: str = "95",
    producer: str = "J",
    version: int = 1,
) -> str:
    """Build a valid Mars 2020 product id (the inverse of :func:`parse_product_id`).

    Parameters
    ----------
    instrument : str
        INSTRUMENT_ID (``"NAVCAM_LEFT"``) or file code (``"NL"``).
    sol, site, drive : int
        0-9999, 0-999, 0-9999.
    sclk : float
        Spacecraft clock seconds; milliseconds are kept (rounded).
    sequence : str
        Up to 9 characters (padded with ``_``), e.g. ``"NCAM00503"``.

    Raises
    ------
    ValueError
        A field out of range or of the wrong length.

    Examples
    --------
    >>> format_m2020_id(instrument="NAVCAM_LEFT", sol=100, sclk=675828717.276, site=4, drive=218,
    ...                 sequence="NCAM00503", camera_specific="01_2", compression="95")
    'NLF_0100_0675828717_276ECM_N0040218NCAM00503_01_295J01'
    """
    code = instrument if instrument in M2020_INSTRUMENTS else _M2020_CODES.get(instrument)
    if code is None:
        raise ValueError(f"unknown Mars 2020 instrument {instrument!r}")
    if not 0 <= sol <= 9999 or not 0 <= site <= 999 or not 0 <= drive <= 9999:
        raise ValueError(f"sol/site/drive out of range: {sol}/{site}/{drive}")
    millis = int(round(sclk * 1000))
    seconds, ms = divmod(millis, 1000)
    if not 0 <= seconds < 10**10:
        raise ValueError(f"sclk {sclk} out of range")
    seq = sequence.upper().ljust(9, "_")
    fields = {"filter": filter, "special": special, "venue": venue, "geometry": geometry,
              "sampling": sampling}
    for name, value in fields.items():
        if len(value) != 1:
            raise ValueError(f"{name} must be one character, got {value!r}")
    if len(seq) != 9 or len(camera_specific) != 4 or len(compression) != 2 \
            or len(product_type) != 3 or len(producer) != 1 or not 0 <= version <= 99:
        raise ValueError("sequence (<=9), camera_specific (4), compression (2), product_type (3),"
                         " producer (1) or version (0-99) has the wrong size")
    pid = (f"{code}{filter}{special}{sol:04d}{venue}{seconds:010d}_{ms:03d}{product_type}"
           f"{geometry}{sampling}{site:03d}{drive:04d}{seq}_{camera_specific}{compression}"
           f"{producer}{version:02d}").upper()
    if _M2020.fullmatch(pid) is None:
        raise ValueError(f"fields do not make a valid Mars 2020 id: {pid}")
    return pid
