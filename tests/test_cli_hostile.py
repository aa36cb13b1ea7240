"""Hostile command-line parameters: each refused with exit status 2 and one line, before any work.

Truth: the bounds rovercam.layout.MAX_SOL (five-digit sol folders), rovercam.synth.MAX_GENERATED_SOL
(four-digit sols in generated product ids), rovercam.sources.MAX_LATEST_SOLS, and the source
location rules of rovercam.sources.location.
"""
from __future__ import annotations

import pytest

from rovercam.catalog import Catalog
from rovercam.cli import main


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    with Catalog(root / "catalog.sqlite") as cat:
        cat.record_product("NLF_0100_0", "ab" * 32, sol=100, instrument="NAVCAM_LEFT",
                           path=str(root / "incoming" / "NLF_0100_0.IMG"))
    return root


def _status(argv, capsys) -> tuple[int, list[str]]:
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return status, captured.err.strip().splitlines()


@pytest.mark.parametrize("args, needle", [
    (["run", "--input", "{drop}", "--sol", str(10**12)], "<= 99999"),
    (["run", "--input", "{drop}", "--sol", "9" * 5000], "a sol"),
    (["run", "--input", "{drop}", "--sol", "1e3"], "a sol"),
    (["run", "--input", "{drop}", "--latest", "0"], "--latest"),
    (["run", "--input", "{drop}", "--latest", "1000"], "<= 100"),
    (["run", "--input", "file:///etc", "--sol", "1"], "system folder"),
    (["run", "--input", "/etc"], "system folder"),
    (["run", "--input", "file:///"], "whole tree"),
    (["run", "--input", "https://ops:secret@archive.example/vol/"], "credentials"),
    (["run", "--input", "{root}"], "storage root itself"),
    (["run", "--input", "{tmp}"], "lies inside the source"),
    (["run", "--input", "{root}/incoming/sol00100"], "incoming/"),
    (["reprocess", "--sol", str(10**12)], "<= 99999"),
    (["reprocess", "--sol", "100", "--cameras", "NOPE"], "'NOPE'"),
    (["reprocess", "--sol", "100", "--stages", "nope"], "'nope'"),
    (["catalog", "outputs", "--sols", "5-1"], "A <= B"),
    (["catalog", "outputs", "--sols", f"0-{10**30}"], "<= 99999"),
    (["catalog", "outputs", "--sol", "-1"], ">= 0"),
    (["catalog", "runs", "--limit", "-1"], ">= 1"),
    (["catalog", "runs", "--limit", str(10**30)], "a count"),
    (["catalog", "outputs", "--since", "x" * 10000], "ISO 8601"),
])
def test_hostile_parameters_are_one_line_errors(root, tmp_path, capsys, args, needle):
    drop = tmp_path / "drop"
    drop.mkdir()
    argv = [a.format(drop=drop, root=root, tmp=tmp_path) for a in args] + ["--out", str(root)]
    status, lines = _status(argv, capsys)
    assert status == 2 and len(lines) == 1, lines
    assert needle in lines[0] and "secret" not in lines[0] and len(lines[0]) < 400, lines[0]


@pytest.mark.parametrize("verb", ["synth", "demo"])
def test_a_sol_past_the_generator_is_refused(tmp_path, capsys, verb):
    status, lines = _status([verb, "--out", str(tmp_path / "out"), "--sol", "10000", "--profile", "tiny"], capsys)
    assert status == 2 and "0..9999" in lines[-1]


def test_hostile_camera_filters_list_nothing(root, capsys):
    for camera in ("%", "_", "NAV%", "' OR '1'='1", "NAVCAM\\"):
        assert main(["catalog", "--out", str(root), "products", "--camera", camera, "--json"]) == 0
        assert capsys.readouterr().out.strip() == "[]", camera
    assert main(["catalog", "--out", str(root), "products", "--camera", "navcam", "--json"]) == 0
    assert "NLF_0100_0" in capsys.readouterr().out
