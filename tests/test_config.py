"""Configuration precedence: defaults < user file < environment < overrides."""
from __future__ import annotations

import pytest

from rovercam import config
from rovercam.errors import ConfigError


def test_defaults_load_both_navcams():
    s = config.load(environ={})
    assert set(s.cameras) >= {"NAVCAM_LEFT", "NAVCAM_RIGHT"}
    assert s.chain.debayer == "malvar"
    assert s.catalog_url.startswith("sqlite:///") and s.catalog_url.endswith("catalog.sqlite")


def test_precedence_file_env_overrides(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text(
        '[storage]\nroot = "from-file"\n[chain]\ndebayer = "bilinear"\n'
        '[cameras.NAVCAM_LEFT]\nbias_dn = 100.0\n'
    )
    s = config.load(user, environ={})
    assert s.storage.root == "from-file" and s.chain.debayer == "bilinear"
    assert s.camera("NAVCAM_LEFT").bias_dn == 100.0
    assert s.camera("NAVCAM_LEFT").responsivity == config.load(environ={}).camera("NAVCAM_LEFT").responsivity

    s = config.load(user, environ={"ROVERCAM_STORAGE__ROOT": "from-env", "ROVERCAM_LIMITS__MAX_LINES": "99"})
    assert s.storage.root == "from-env" and s.limits.max_lines == 99 and s.chain.debayer == "bilinear"

    s = config.load(user, environ={"ROVERCAM_STORAGE__ROOT": "from-env"}, overrides={"storage": {"root": "cli"}})
    assert s.storage.root == "cli"
    assert s.sources[-1] == "overrides"


def test_user_file_from_environment(tmp_path):
    user = tmp_path / "u.toml"
    user.write_text('[mosaic]\nfeather = 0.25\n')
    assert config.load(environ={"ROVERCAM_CONFIG": str(user)}).mosaic.feather == 0.25


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"ROVERCAM_CHAIN__DEBAYER": "nearest"}, "chain.debayer"),
        ({"ROVERCAM_LIMITS__MAX_LINES": "-1"}, "limits.max_lines"),
        ({"ROVERCAM_CONFIG": "/nonexistent/rovercam.toml"}, "not found"),
    ],
)
def test_bad_values_name_the_key(env, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        config.load(environ=env)


def test_unknown_camera_lists_known():
    with pytest.raises(ConfigError, match="NAVCAM_LEFT"):
        config.load(environ={}).camera("PANCAM_LEFT")


def test_config_hash_tracks_science_not_storage():
    a = config.load(environ={})
    b = config.load(environ={"ROVERCAM_STORAGE__ROOT": "/elsewhere"})
    c = config.load(environ={"ROVERCAM_CHAIN__DEBAYER": "bilinear"})
    assert a.config_hash == b.config_hash != c.config_hash
