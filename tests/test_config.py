"""Config errors a person can act on: file, line and key path; unknown and duplicate keys rejected."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pbx_bridge.config import API_KEY_ENV, ConfigError
from pbx_bridge.settings import load_settings, parse_settings

BASE = "itflow:\n  url: https://itflow.example.com\n  api_key: k3y\n"


def _err(text: str, **kw: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, path="config.yaml", env={}, **kw)  # type: ignore[arg-type]
    return info.value


def test_minimal_config_gets_documented_defaults() -> None:
    s = parse_settings(BASE, env={})
    assert s.itflow.url == "https://itflow.example.com"
    assert s.itflow.api == "auto"
    assert s.fastagi.port == 4574  # FreePBX's own FastAGI server has 4573
    assert s.http.host == "127.0.0.1"
    assert s.http.port not in (80, 443, 8001, 8003, 8088, 8089)
    assert s.ami is None


def test_typo_names_file_line_and_key_path() -> None:
    e = _err(BASE + "fastagi:\n  host: 127.0.0.1\n  prot: 4574\n")
    assert str(e) == "config.yaml:6: fastagi.prot: unknown key (a typo?)"


def test_duplicate_key_is_an_error_not_last_wins() -> None:
    e = _err(BASE + "http:\n  port: 9000\n  port: 9001\n")
    assert e.line == 6 and e.key == "http.port"
    assert "duplicate key (first at line 5)" in str(e)


def test_duplicate_section_is_an_error() -> None:
    e = _err(BASE + "itflow:\n  url: https://other.example.com\n")
    assert e.key == "itflow" and e.line == 4


def test_bad_value_names_line() -> None:
    e = _err("itflow:\n  url: itflow.example.com\n  api_key: k\n")
    assert str(e).startswith("config.yaml:2: itflow.url: not a URL")


def test_bad_type_in_nested_list_names_line() -> None:
    e = _err(BASE + "http:\n  allow:\n    - 127.0.0.0/8\n    - not-a-network\n")
    assert e.key == "http.allow" and e.line == 5


def test_url_with_api_suffix_is_refused_with_a_hint() -> None:
    e = _err("itflow:\n  url: https://x.example.com/api.php\n  api_key: k\n")
    assert "without /api.php" in str(e)


def test_missing_url_is_reported() -> None:
    e = _err("itflow:\n  api_key: k\n")
    assert e.key == "itflow.url" and "required" in str(e)


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = parse_settings("itflow:\n  url: https://x.example.com\n", env={API_KEY_ENV: "from-env"})
    assert s.api_key == "from-env"


def test_no_key_anywhere_is_an_error() -> None:
    e = _err("itflow:\n  url: https://x.example.com\n")
    assert e.key == "itflow.api_key" and API_KEY_ENV in str(e)


def test_key_file_relative_to_config_and_exposure_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = tmp_path / "key"
    key.write_text("secret-from-file\n")
    key.chmod(0o644)
    cfg = tmp_path / "config.yaml"
    cfg.write_text("itflow:\n  url: https://x.example.com\n  api_key_file: key\n")
    cfg.chmod(0o600)
    with caplog.at_level("WARNING", logger="pbx_bridge.config"):
        s = load_settings(cfg, env={})
    assert s.api_key == "secret-from-file"
    # One log line, not a UserWarning block quoting Python source.
    warned = [r.getMessage() for r in caplog.records if "readable by others" in r.getMessage()]
    assert len(warned) == 1 and "\n" not in warned[0] and str(key) in warned[0]
    key.chmod(0o600)
    s = load_settings(cfg, env={})
    assert s.api_key == "secret-from-file"


def test_unreadable_key_file_names_key(tmp_path: Path) -> None:
    e = _err("itflow:\n  url: https://x.example.com\n  api_key_file: /nonexistent/key\n")
    assert e.key == "itflow.api_key_file" and e.line == 3


def test_ami_section_without_credentials_is_an_error() -> None:
    e = _err(BASE + "ami:\n  host: 127.0.0.1\n")
    assert e.key.startswith("ami.") and "required" in str(e)


def test_yaml_syntax_error_has_line() -> None:
    e = _err(BASE + "http:\n  port: [1,\n")
    assert e.line is not None and e.path == "config.yaml"


def test_example_config_is_valid() -> None:
    root = Path(__file__).resolve().parent.parent
    s = load_settings(root / "config.example.yaml", env={})
    assert s.itflow.url.startswith("http")


def test_cli_reports_config_error_with_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BASE + "directroy:\n  sync_interval: 60\n")
    cfg.chmod(stat.S_IRUSR | stat.S_IWUSR)
    proc = subprocess.run(
        [sys.executable, "-m", "pbx_bridge.cli", "--config", str(cfg), "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, API_KEY_ENV: ""},
    )
    assert proc.returncode == 2
    assert f"{cfg}:4: directroy: unknown key" in proc.stderr


def test_voicemail_spool_root_key_name_is_kept() -> None:
    # Named exactly in the tickets issue; other tooling relies on it.
    s = parse_settings(BASE + "voicemail:\n  spool_root: /srv/vm\n", env={})
    assert s.voicemail.spool_root == Path("/srv/vm")
    assert parse_settings(BASE, env={}).voicemail.spool_root == Path("/var/spool/asterisk/voicemail")


def test_a_typo_in_a_top_level_key_is_reported_before_the_key_it_hides() -> None:
    # "itflw:" also leaves "itflow" missing; the typo is what the user must fix.
    e = _err("itflw:\n  url: https://itflow.example.com\n  api_key: k3y\nlog_level: info\n")
    assert e.key == "itflw" and e.line == 1 and "unknown key" in e.message, str(e)


def test_an_empty_config_names_a_line() -> None:
    for text in ("", "# only a comment\n"):
        e = _err(text)
        assert e.line == 1 and e.key == "itflow", str(e)
        assert str(e).startswith("config.yaml:1: itflow: the file is empty")


def test_a_relative_state_dir_is_next_to_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "c.yaml"
    cfg.parent.mkdir()
    cfg.write_text(BASE + "state_dir: .state\n")
    cfg.chmod(0o600)
    assert load_settings(cfg, env={}).state_dir == cfg.parent.resolve() / ".state"


def test_the_example_config_keeps_its_trial_state_out_of_production() -> None:
    root = Path(__file__).resolve().parent.parent
    s = load_settings(root / "config.example.yaml", env={})
    assert s.state_dir == root / ".state"
    assert not str(s.state_dir).startswith("/var/lib/pbx-bridge")


def test_placeholder_secrets_in_a_world_readable_file_are_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "itflow:\n  url: https://x.example.com\n  api_key: change-me\n"
        "ami:\n  username: u\n  secret: change-me\n"
    )
    cfg.chmod(0o644)
    with caplog.at_level("WARNING", logger="pbx_bridge.config"):
        load_settings(cfg, env={})
    assert not [r for r in caplog.records if "readable by others" in r.getMessage()]
    cfg.write_text(
        "itflow:\n  url: https://x.example.com\n  api_key: change-me\n"
        "ami:\n  username: u\n  secret: S3cretAmi\n"
    )
    with caplog.at_level("WARNING", logger="pbx_bridge.config"):
        load_settings(cfg, env={})
    assert [r for r in caplog.records if "the AMI secret" in r.getMessage()]


def test_the_example_config_prints_no_warning_block(tmp_path: Path) -> None:
    # A fresh clone: the example is 0644 and holds placeholders. No UserWarning, no Python source.
    root = Path(__file__).resolve().parent.parent
    example = tmp_path / "config.example.yaml"
    example.write_text(
        (root / "config.example.yaml").read_text().replace("state_dir: .state", f"state_dir: {tmp_path}/s")
    )
    example.chmod(0o644)
    proc = subprocess.run(
        [sys.executable, "-m", "pbx_bridge.cli", "directory", "stats", "--config", str(example)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, API_KEY_ENV: ""},
    )
    assert "Warning" not in proc.stderr and "warnings.warn" not in proc.stderr, proc.stderr
    assert "readable by others" not in proc.stderr, proc.stderr


def test_python_warnings_are_logged_on_one_line() -> None:
    code = (
        "import warnings; from pbx_bridge.logging_setup import setup_logging; setup_logging(); "
        "warnings.warn('something odd', UserWarning)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "UserWarning: something odd" in lines[0], proc.stderr


def test_config_option_is_accepted_after_the_verb_too(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(BASE + "directroy: {}\n")
    cfg.chmod(0o600)
    for argv in (
        ["--config", str(cfg), "check"],
        ["check", "--config", str(cfg)],
        ["directory", "stats", "-c", str(cfg)],
        ["tickets", "list", "--config", str(cfg)],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "pbx_bridge.cli", *argv], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 2, (argv, proc.stderr)
        assert f"{cfg}:4: directroy: unknown key" in proc.stderr, (argv, proc.stderr)
