"""The balance config section: the documented example equals the defaults; bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pbx_bridge.balance.settings import BalanceSettings
from pbx_bridge.config import ConfigError, parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def test_example_documents_the_defaults() -> None:
    settings = parse_settings(EXAMPLE.read_text(), env={})
    assert settings.balance == BalanceSettings()


@pytest.mark.parametrize(("yaml", "key"), [
    ("balance: {verification: sms}", "balance.verification"),
    ("balance: {default_currency: dollars}", "balance.default_currency"),
    ("balance: {max_attempts: 0}", "balance.max_attempts"),
    ("balance: {prompts: {en: {intro: [your], outro: [x]}}}", "balance.prompts.en.outro"),
])
def test_bad_values_name_the_key(yaml: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(f"itflow: {{url: http://127.0.0.1:1, api_key: k}}\n{yaml}\n", env={})
    assert info.value.key == key and info.value.line == 2


def test_prompts_fall_back_by_language() -> None:
    s = BalanceSettings.model_validate({"prompts": {"de": {"intro": ["custom/kontostand"]}, "en": {}}})
    assert s.prompts_for("de_AT").intro == ["custom/kontostand"]
    assert s.prompts_for("en_GB").intro == ["custom/pbxb-your-balance-is", "your"]
    assert s.prompts_for("fr").intro == ["custom/kontostand"]   # the first listed
