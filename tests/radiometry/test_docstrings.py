"""The runnable examples in rovercam.radiometry docstrings stay true."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["bias", "color", "debayer", "decompand", "dtypes", "flat", "lut", "radiance"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"rovercam.radiometry.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_names_are_exported():
    import rovercam.radiometry as radiometry

    for name in radiometry.__all__:
        assert getattr(radiometry, name) is not None
