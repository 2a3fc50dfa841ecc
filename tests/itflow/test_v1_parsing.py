"""v1 answer decoding that the simulator has no switch for (PHP display_errors=On)."""

from __future__ import annotations

import json

import pytest

from pbx_bridge.itflow.errors import redact
from pbx_bridge.itflow.v1 import _decode_json


def test_php_warnings_before_the_json_are_skipped() -> None:
    # display_errors=On and no User-Agent: PHP prints a warning before the envelope (docs/itflow-api.md §2.2).
    body = (
        b'<br />\n<b>Warning</b>:  Undefined array key "HTTP_USER_AGENT" in <b>/var/www/api/v1/'
        b"validate_api_key.php</b> on line <b>12</b><br />\n"
        b'{"success":"True","count":1,"data":[{"a":"1"}]}'
    )
    assert _decode_json(body) == {"success": "True", "count": 1, "data": [{"a": "1"}]}


def test_not_json_at_all_raises() -> None:
    with pytest.raises(json.JSONDecodeError):
        _decode_json(b"<html><body>It works!</body></html>")


@pytest.mark.parametrize(
    ("text", "secret", "want"),
    [
        ("key=AbC123 and abc123", "abc123", "key=*** and ***"),
        ("nothing here", "abc123", "nothing here"),
        ("", "abc", ""),
        ("no secret given", "", "no secret given"),
    ],
)
def test_redact(text: str, secret: str, want: str) -> None:
    assert redact(text, secret) == want
