"""The balance config section: the documented example equals the defaults; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.config import ConfigError
from pbx_bridge.settings import parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_example_documents_the_defaults() -> None:
    settings = parse_settings(EXAMPLE.read_text(), env={})
    assert settings.balance == BalanceSettings()


@pytest.mark.parametrize(
    ("yaml", "key"),
    [
        ("balance: {verification: sms}", "balance.verification"),
        ("balance: {default_currency: dollars}", "balance.default_currency"),
        ("balance: {max_attempts: 0}", "balance.max_attempts"),
        ("balance: {prompts: {en: {intro: [your], outro: [x]}}}", "balance.prompts.en.outro"),
    ],
)
def test_bad_values_name_the_key(yaml: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\n{yaml}\n", env={})
    assert info.value.key == key and info.value.line == 2


def test_prompts_fall_back_by_language() -> None:
    s = BalanceSettings.model_validate({"prompts": {"de": {"intro": ["custom/kontostand"]}, "en": {}}})
    assert s.prompts_for("de_AT").intro == ["custom/kontostand"]
    assert s.prompts_for("en_GB").intro == ["custom/pbxb-your-balance-is", "your"]
    assert s.prompts_for("fr").intro == ["custom/kontostand"]  # the first listed


GOOD_SECRET = "0123456789abcdef0123456789abcdef\n"


@pytest.mark.parametrize(
    ("content", "mode", "why"),
    [
        (None, 0o640, "cannot read"),
        ("short\n", 0o640, "at least 16"),
        ("has a space in it, and commas ok?\n", 0o640, "at least 16 letters"),
        (GOOD_SECRET, 0o644, "readable or writable by every user"),  # any local process could read it
        (GOOD_SECRET, 0o602, "readable or writable by every user"),  # ... or choose it
    ],
)
def test_an_unusable_secret_file_names_the_key(
    tmp_path: Path, content: str | None, mode: int, why: str
) -> None:
    path = tmp_path / "balance.secret"
    if content is not None:
        path.write_text(content)
        path.chmod(mode)
    with pytest.raises(ConfigError) as info:
        parse_settings(
            f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\nbalance: {{secret_file: {path}}}\n", env={}
        )
    assert info.value.key == "balance.secret_file" and info.value.line == 2 and why in str(info.value)


def test_allow_lists_are_checked() -> None:
    for yaml, key in (
        ("balance: {allow: [not-a-net]}", "balance.allow"),
        ("fastagi: {allow: [300.1.1.1/8]}", "fastagi.allow"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_settings(f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\n{yaml}\n", env={})
        assert info.value.key.startswith(key), info.value


def test_a_good_secret_file_is_accepted_and_its_content_is_in_no_error(tmp_path: Path) -> None:
    path = tmp_path / "balance.secret"
    path.write_text(GOOD_SECRET)
    path.chmod(0o640)
    s = parse_settings(
        f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\nbalance: {{secret_file: {path}}}\n", env={}
    )
    assert s.balance.secret_file == path
    path.chmod(0o644)
    with pytest.raises(ConfigError) as info:
        parse_settings(
            f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\nbalance: {{secret_file: {path}}}\n", env={}
        )
    assert GOOD_SECRET.strip() not in str(info.value)
