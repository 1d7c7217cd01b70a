from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chapar.config import Settings, load_settings


def test_defaults_are_the_embedded_ones() -> None:
    s = load_settings(env={})
    assert (s.host, s.port, s.sms_gateway, s.test_numbers) == ("127.0.0.1", 8080, "console", False)
    assert s.sqlite_path() == Path("data/chapar.sqlite3")


def test_sources_later_wins(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('port = 9000\nhost = "0.0.0.0"\ndefault_region = "DE"\n')
    env = {"CHAPAR_PORT": "9100", "CHAPAR_TEST_NUMBERS": "true"}
    s = load_settings(str(toml), env=env, overrides={"port": 9200, "data_dir": None})
    assert s.port == 9200  # flag beats env beats file
    assert s.host == "0.0.0.0" and s.default_region == "DE"
    assert s.test_numbers is True
    assert s.data_dir == Settings().data_dir  # a flag left out does not override


def test_config_file_from_environment(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("code_resend_seconds = 5\n")
    assert load_settings(env={"CHAPAR_CONFIG": str(toml)}).code_resend_seconds == 5


@pytest.mark.parametrize(
    "env",
    [{"CHAPAR_PORT": "eighty"}, {"CHAPAR_TEST_NUMBERS": "maybe"}],
)
def test_invalid_values_are_refused_with_the_field(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="invalid settings"):
        load_settings(env=env)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(str(toml), env={})


def test_help_documents_every_setting() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "chapar", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in Settings.__struct_fields__:
        assert f"CHAPAR_{name.upper()}" in out


def test_bad_config_exits_with_a_message(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "chapar", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"CHAPAR_PORT": "x", "PATH": ""},
        timeout=30,
    )
    assert r.returncode == 2 and "invalid settings" in r.stderr
