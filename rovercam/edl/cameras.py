"""Camera settings of EDL cameras found on the calibration search path.

The shipped configuration (``config/cameras/*.toml``) covers the surface cameras; a sol's
calibration folder may bring the EDL cameras' files in the same format
(``<search path>/cameras/<camera>.toml``, as the synthetic generator writes them).
:func:`camera_overrides` returns the settings overrides that add the cameras the
configuration does not know yet (configured cameras always win).
"""
from __future__ import annotations

import logging
import tomllib
from typing import Any

from rovercam.config import Settings

__all__ = ["camera_overrides"]

log = logging.getLogger(__name__)


def camera_overrides(settings: Settings) -> dict[str, Any]:
    """``{"cameras": {ID: table}}`` for cameras on the search path missing from ``settings``.

    Returns an empty dict when there is nothing to add.
    """
    found: dict[str, Any] = {}
    for folder in settings.calibration_path:
        for f in sorted((folder / "cameras").glob("*.toml")):
            try:
                table = tomllib.loads(f.read_text())
            except (OSError, tomllib.TOMLDecodeError) as e:
                log.warning("%s: not read (%s)", f, e)
                continue
            iid = str(table.get("instrument_id", "")).upper()
            if iid and iid not in settings.cameras and iid not in found:
                found[iid] = table
                log.info("%s: camera settings from %s", iid, f)
    return {"cameras": found} if found else {}
