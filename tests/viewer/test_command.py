"""The CLI verbs as the lead wires them: ``register(subparsers)`` on the ``rovercam`` parser."""
from __future__ import annotations

import argparse

from rovercam.viewer.command import cmd_export_site, cmd_view, register


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rovercam")
    p.add_argument("--config")
    register(p.add_subparsers(dest="command", required=True))
    return p


def test_view_binds_localhost_by_default_and_keeps_the_global_config():
    a = _parser().parse_args(["--config", "user.toml", "view"])
    assert (a.func, a.host, a.port, a.open, a.config) == (cmd_view, "127.0.0.1", 8765, False, "user.toml")
    a = _parser().parse_args(["view", "--open", "--port", "0", "--config", "other.toml"])
    assert (a.open, a.port, a.config) == (True, 0, "other.toml")


def test_export_site_takes_a_folder(tmp_path):
    a = _parser().parse_args(["export-site", str(tmp_path / "site"), "--all-versions"])
    assert (a.func, a.dir, a.all_versions, a.include_data) == (cmd_export_site, str(tmp_path / "site"), True, False)
