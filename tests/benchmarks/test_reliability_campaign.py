"""The reliability campaign's aggregator: parts run in order, figures merge, failures are reported."""
from __future__ import annotations

import sys
import types

import pytest

from rovercam_benchmarks import reliability


def _part(figures=None, error=None, seen=None):
    def run(*, quick, workdir):
        assert workdir.is_dir()
        if seen is not None:
            seen.append((quick, workdir))
        if error is not None:
            raise error
        return dict(figures or {})

    return types.SimpleNamespace(run=run)


def test_parts_merge_and_a_failing_part_does_not_stop_the_campaign(monkeypatch):
    seen = []
    monkeypatch.setitem(sys.modules, "rovercam_benchmarks.reliability.parameters",
                        _part({"hostile_param_cases": 7}, seen=seen))
    monkeypatch.setitem(sys.modules, "rovercam_benchmarks.reliability.sources",
                        _part(error=RuntimeError("server would not start\nsecond line"), seen=seen))
    monkeypatch.setitem(sys.modules, "rovercam_benchmarks.reliability.soak",
                        _part({"soak_sols": 3}, seen=seen))
    figures = reliability.run(quick=True, parts=("parameters", "sources", "soak"))
    assert figures["hostile_param_cases"] == 7 and figures["soak_sols"] == 3
    assert figures["sources_error"] == "RuntimeError: server would not start"
    assert {"parameters_s", "sources_s", "soak_s"} <= set(figures)
    assert [q for q, _ in seen] == [True, True, True]
    # each part had its own folder, removed afterwards
    assert len({w for _, w in seen}) == 3 and not any(w.exists() for _, w in seen)


def test_a_figure_reported_twice_is_an_error_of_the_later_part(monkeypatch):
    modules = sys.modules
    monkeypatch.setitem(modules, "rovercam_benchmarks.reliability.parameters", _part({"x": 1}))
    monkeypatch.setitem(modules, "rovercam_benchmarks.reliability.soak", _part({"x": 2}))
    figures = reliability.run(parts=("parameters", "soak"))
    assert figures["x"] == 1 and "already reported" in figures["soak_error"]


def test_unknown_parts_are_refused():
    with pytest.raises(ValueError, match="unknown reliability parts"):
        reliability.run(parts=("chaos",))
