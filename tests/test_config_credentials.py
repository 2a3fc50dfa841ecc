"""``itflow.api_key_file: ${CREDENTIALS_DIRECTORY}/...``: the key as a systemd credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.config import ConfigError
from pbx_bridge.settings import load_settings


def _config(tmp_path: Path, key_file: str) -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"itflow:\n  url: https://itflow.example.com\n  api_key_file: {key_file}\n")
    cfg.chmod(0o600)
    return cfg


@pytest.mark.parametrize("spelling", ["${CREDENTIALS_DIRECTORY}", "$CREDENTIALS_DIRECTORY"])
def test_credentials_directory_is_expanded(tmp_path: Path, spelling: str) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "itflow-api-key").write_text("SecretFromSystemd\n")
    (creds / "itflow-api-key").chmod(0o400)
    cfg = _config(tmp_path, f"{spelling}/itflow-api-key")
    settings = load_settings(cfg, env={"CREDENTIALS_DIRECTORY": str(creds)})
    assert settings.api_key == "SecretFromSystemd"


def test_unset_credentials_directory_names_the_line(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "${CREDENTIALS_DIRECTORY}/itflow-api-key")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, env={})
    assert e.value.line == 3 and e.value.key == "itflow.api_key_file"
    assert "CREDENTIALS_DIRECTORY is not set" in str(e.value)


def test_other_variables_stay_literal(tmp_path: Path) -> None:
    # Only the systemd credential directory is expanded: "$HOME" is part of the file name here.
    cfg = _config(tmp_path, "$HOME/key")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg, env={"HOME": str(tmp_path)})
    assert "cannot read the key file" in str(e.value)
