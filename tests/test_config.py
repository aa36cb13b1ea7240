"""Configuration precedence: defaults < user file < environment < overrides."""
from __future__ import annotations

import pytest

from rovercam import config
from rovercam.errors import ConfigError


def test_defaults_load_the_registry_by_mission():
    s = config.load(environ={})
    assert set(s.cameras) == {"M2020", "MSL", "MER", "NSYT"}
    assert set(s.cameras["M2020"]) >= {"NAVCAM_LEFT", "NAVCAM_RIGHT"}
    assert s.camera("NAVCAM_LEFT", "MER").mission == "MER"  # same id, another camera
    assert s.chain.debayer == "malvar"
    assert s.catalog_url.startswith("sqlite:///") and s.catalog_url.endswith("catalog.sqlite")


def test_precedence_file_env_overrides(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text(
        '[storage]\nroot = "from-file"\n[chain]\ndebayer = "bilinear"\n'
        '[cameras.M2020.NAVCAM_LEFT]\nbias_dn = 100.0\n'
    )
    s = config.load(user, environ={})
    assert s.storage.root == "from-file" and s.chain.debayer == "bilinear"
    assert s.camera("NAVCAM_LEFT", "M2020").bias_dn == 100.0
    default = config.load(environ={}).camera("NAVCAM_LEFT", "M2020")
    assert s.camera("NAVCAM_LEFT", "M2020").flat == default.flat
    assert s.camera("NAVCAM_LEFT", "MER").bias_dn == 0.0  # the MER Navcam is another camera

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
        config.load(environ={}).camera("PANCAM_LEFT", "M2020")


def test_ambiguous_camera_needs_its_mission():
    with pytest.raises(ConfigError, match="M2020/NAVCAM_LEFT, MER/NAVCAM_LEFT"):
        config.load(environ={}).camera("NAVCAM_LEFT")


def test_aliases_and_case_resolve():
    s = config.load(environ={})
    assert s.camera("front_hazcam_left", "M2020").instrument_id == "FRONT_HAZCAM_LEFT_A"
    assert s.camera("MASTCAM_LEFT", "MSL").instrument_id == "MAST_LEFT"


def test_user_cameras_must_be_keyed_by_mission(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('[cameras.NAVCAM_LEFT]\nbias_dn = 100.0\n')
    with pytest.raises(ConfigError, match=r"\[cameras.M2020.NAVCAM_LEFT\]"):
        config.load(user, environ={})


def test_search_path_camera_tables_replace_registry_entries(tmp_path):
    cams = tmp_path / "cal" / "cameras"
    cams.mkdir(parents=True)
    (cams / "navcam_left.toml").write_text(
        'instrument_id = "NAVCAM_LEFT"\nmission = "M2020"\nradiometry = "absolute"\n'
        'radiometry_source = "synthetic: test"\nresponsivity = [1.0, 2.0, 3.0]\nsynthetic = true\n')
    s = config.load(environ={}, overrides={"calibration": {"search_path": [str(tmp_path / "cal")]}})
    cam = s.camera("NAVCAM_LEFT", "M2020")
    assert cam.synthetic and cam.responsivity == (1.0, 2.0, 3.0) and cam.flat is None
    # the same through with_overrides (how the demo and the flows add a sol's folder)
    t = config.load(environ={}).with_overrides({"calibration": {"search_path": [str(tmp_path / "cal")]}})
    assert t.camera("NAVCAM_LEFT", "M2020").synthetic
    assert not t.camera("NAVCAM_RIGHT", "M2020").synthetic  # untouched cameras stay


def test_absolute_radiometry_needs_a_responsivity(tmp_path):
    user = tmp_path / "user.toml"
    user.write_text('[cameras.M2020.NAVCAM_LEFT]\nradiometry = "absolute"\n')
    with pytest.raises(ConfigError, match="needs a responsivity"):
        config.load(user, environ={})


def test_shipped_calibration_is_searched_last(tmp_path):
    s = config.load(environ={}, overrides={"calibration": {"search_path": [str(tmp_path)]}})
    assert s.calibration_path[0] == tmp_path.resolve()
    assert s.calibration_path[-1] == config.calibration_data_dir()
    assert (s.calibration_path[-1] / "luts" / "M20_LUT2_v2a.txt").is_file()


def test_config_hash_tracks_science_not_storage():
    a = config.load(environ={})
    b = config.load(environ={"ROVERCAM_STORAGE__ROOT": "/elsewhere"})
    c = config.load(environ={"ROVERCAM_CHAIN__DEBAYER": "bilinear"})
    assert a.config_hash == b.config_hash != c.config_hash
