"""Fixtures for the camera tests (helpers live in camera_realdata.py)."""
from __future__ import annotations

import pytest

from camera_realdata import RealModel, load_real_models


@pytest.fixture(scope="session")
def real_models() -> dict[str, RealModel]:
    """Every flight model in ../shared/realdata, by short name (skips when it is absent)."""
    return load_real_models()
