from __future__ import annotations

import pytest

from pbx_bridge.agi.errors import AgiProtocolError
from pbx_bridge.agi.protocol import (
    ReplyReader,
    format_command,
    parse_env_line,
    parse_reply,
    quote,
    sanitize_value,
    split_script,
    validate_variable_name,
)
from tests.agi.peer import parse_args

HOSTILE = [
    'O"Brien',
    "back\\slash",
    "trailing backslash\\",
    '\\"',
    "${SHELL(rm -rf /)}",
    "$[1+1] {x} }{",
    "Müller & Søn – Zürich",
    "佐藤 株式会社",
    "Ada 👩‍💻 🎉",
    "a  b\tc",
    '"',
    "",
    "semi;colon,comma|pipe'quote",
    "(paren) endpos=5",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_quoted_value_survives_res_agi_parser(name: str) -> None:
    words = parse_args(f"SET VARIABLE CALLERID(name) {quote(name)}")
    assert words == ["SET", "VARIABLE", "CALLERID(name)", sanitize_value(name)]


def test_sanitize_removes_only_control_characters() -> None:
    assert sanitize_value("Al\r\nice\x00\x07\x1b[31m\x7f\x85") == "Alice[31m"
    keep = 'O"Br\\ien ${X} {} Zoë 👩‍💻 \u200f'
    assert sanitize_value(keep) == keep


def test_newline_cannot_start_a_second_command() -> None:
    value = 'x"\nEXEC System "touch /tmp/pwned'
    line = f"SET VARIABLE CALLERID(name) {quote(value)}"
    assert "\n" not in line
    assert parse_args(line)[3] == 'x"EXEC System "touch /tmp/pwned'
    with pytest.raises(ValueError):
        format_command("VERBOSE x\nHANGUP")


def test_lone_surrogate_becomes_replacement_character() -> None:
    assert sanitize_value("M\udcfcller") == "M\ufffdller"
    raw = "M\udcfcller"
    assert format_command("VERBOSE " + quote(raw)).decode() == 'VERBOSE "M\ufffdller"\n'


def test_overlong_command_is_refused() -> None:
    with pytest.raises(ValueError):
        format_command("VERBOSE " + quote("x" * 2100))


@pytest.mark.parametrize(
    ("line", "code", "result", "data", "extras"),
    [
        ("200 result=1", 200, "1", "", {}),
        ("200 result=1 (ACME Corp - Alice)", 200, "1", "ACME Corp - Alice", {}),
        ("200 result=1 (a (nested) value)", 200, "1", "a (nested) value", {}),
        ("200 result=1 ()", 200, "1", "", {}),
        ("200 result=0 endpos=5120", 200, "0", "", {"endpos": "5120"}),
        ("200 result=-1 endpos=0", 200, "-1", "", {"endpos": "0"}),
        ("200 result= (timeout)", 200, "", "timeout", {}),
        ("200 result=1 (x) endpos=7", 200, "1", "x", {"endpos": "7"}),
        ("510 Invalid or unknown command", 510, "", "Invalid or unknown command", {}),
        (
            "511 Command Not Permitted on a dead channel or intercept routine",
            511,
            "",
            "Command Not Permitted on a dead channel or intercept routine",
            {},
        ),
    ],
)
def test_parse_reply(line: str, code: int, result: str, data: str, extras: dict[str, str]) -> None:
    reply = parse_reply(line)
    assert (reply.code, reply.result, reply.data, reply.extras) == (code, result, data, extras)


def test_reply_helpers() -> None:
    assert parse_reply("200 result=-1 endpos=0").failed
    assert parse_reply("200 result=-1 endpos=0").endpos == 0
    assert parse_reply("200 result=6").result_int == 6
    assert not parse_reply("200 result=0").failed


@pytest.mark.parametrize("line", ["hello", "200 nothing", "20 result=1", "200 result=1 (unbalanced"])
def test_malformed_reply_raises(line: str) -> None:
    with pytest.raises(AgiProtocolError):
        parse_reply(line)


def test_reader_hangup_usage_and_interim_lines() -> None:
    r = ReplyReader()
    assert r.feed("HANGUP") == "hangup"
    assert r.feed("100 result=0 Trying...") is None
    assert r.feed("520-Invalid command syntax.  Proper usage follows:") is None
    assert r.feed(" Usage: STREAM FILE <filename> <escape_digits> [<sample offset>]") is None
    usage = r.feed("520 End of proper usage.")
    assert usage is not None and not isinstance(usage, str)
    assert usage.code == 520 and "STREAM FILE" in usage.data
    reply = r.feed("200 result=1")
    assert not isinstance(reply, str) and reply is not None and reply.result == "1"


def test_env_lines() -> None:
    assert parse_env_line("agi_callerid: 15551230001") == ("agi_callerid", "15551230001")
    assert parse_env_line("agi_accountcode: ") == ("agi_accountcode", "")
    assert parse_env_line("agi_calleridname: A: B") == ("agi_calleridname", "A: B")
    assert parse_env_line("garbage without colon") is None
    assert parse_env_line(": value") is None


def test_split_script() -> None:
    assert split_script("cid") == ("cid", {})
    assert split_script("/cid?x=1&y=two%20words") == ("cid", {"x": "1", "y": "two words"})
    assert split_script("balance?account=15551230001") == ("balance", {"account": "15551230001"})


def test_variable_names() -> None:
    assert validate_variable_name("CALLERID(name)") == "CALLERID(name)"
    assert validate_variable_name("ITFLOW_MATCH") == "ITFLOW_MATCH"
    for bad in ("A B", 'X"', "", "A\nB", "X)Y("):
        with pytest.raises(ValueError):
            validate_variable_name(bad)
