"""The technicians section: read from YAML, one owner per extension, errors that name the line."""

from __future__ import annotations

import pytest

from pbx_bridge.config import ConfigError
from pbx_bridge.settings import parse_settings

BASE = "itflow:\n  url: http://127.0.0.1:9\n  api_key: k\n"


def test_an_extension_finds_its_technician() -> None:
    s = parse_settings(
        BASE + "technicians:\n  - name: Dana\n    extensions: ['202', '212']\n    itflow_user_id: 3\n"
    )
    dana = s.technicians.by_extension("212")
    assert dana is not None and dana.name == "Dana" and dana.itflow_user_id == 3
    assert s.technicians.by_extension("201") is None


def test_none_configured_by_default() -> None:
    assert parse_settings(BASE).technicians.people == ()


def test_two_technicians_on_one_extension_is_an_error_naming_both() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(
            BASE + "technicians:\n  - name: Dana\n    extensions: ['202']\n"
            "  - name: Sam\n    extensions: ['202']\n"
        )
    assert "202" in str(err.value) and "Dana" in str(err.value) and "Sam" in str(err.value)


def test_a_non_digit_extension_names_its_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(BASE + "technicians:\n  - name: Dana\n    extensions: ['20x']\n")
    assert "<config>:6: technicians.0.extensions" in str(err.value) and "digits only" in str(err.value)
