"""Subject shaping, escaped HTML details, the call marker and voicemail spool details."""

from __future__ import annotations

import html
from pathlib import Path

from pbx_bridge.ami.outcome import Outcome
from pbx_bridge.tickets.render import read_voicemail, render_ticket, shape_subject

from .support import record


def test_subject_as_the_issue_shows() -> None:
    d = render_ticket(
        record("1.1"),
        kind="missed",
        number_display="+1 412-555-0101",
        client_id=1,
        contact_id=3,
        client_name="ACME Corp",
        contact_name="Alice",
    )
    assert d.subject == "Missed call from ACME Corp - Alice (+1 412-555-0101)"
    assert (d.client_id, d.contact_id) == (1, 3)


def test_unknown_and_anonymous_callers() -> None:
    d = render_ticket(
        record("1.1"), kind="missed", number_display="+1 555-123-0001", client_id=0, contact_id=0
    )
    assert d.subject == "Missed call from +1 555-123-0001"
    d = render_ticket(record("1.1", number=""), kind="missed", number_display="", client_id=0, contact_id=0)
    assert d.subject == "Missed call from an anonymous caller"
    d = render_ticket(
        record("1.1", Outcome.VOICEMAIL), kind="voicemail", number_display="+1", client_id=0, contact_id=0
    )
    assert d.subject.startswith("Voicemail from")


def test_angle_brackets_survive_itflow_tag_stripping_and_length_is_cut() -> None:
    s = shape_subject("Missed call from <script>Bell & Whistle</script>\r\n (+1)", 200)
    assert "<" not in s and ">" not in s and "Bell & Whistle" in s and "\n" not in s
    long = shape_subject("Missed call from " + "Ä&" * 400, 500)
    assert len(html.escape(long)) <= 500 and long.endswith("\u2026")


def test_details_escape_every_value_and_carry_the_marker() -> None:
    rec = record("1795850021.4", caller_name='<img src=x onerror="alert(1)">', did="5551000&x")
    d = render_ticket(
        rec,
        kind="missed",
        number_display="+1 412-555-0101",
        client_id=0,
        contact_id=0,
        client_name="Bell & Whistle",
        contact_name="<b>Bob</b>",
    )
    assert "<img" not in d.details and "&lt;img" in d.details
    assert "&lt;b&gt;Bob" in d.details and "Bell &amp; Whistle" in d.details and "5551000&amp;x" in d.details
    assert "pbx-bridge:call=1795850021.4;kind=missed" in d.details


def test_voicemail_details_from_the_spool_and_without_it(tmp_path: Path) -> None:
    box = tmp_path / "default" / "202" / "INBOX"
    box.mkdir(parents=True)
    (box / "msg0000.txt").write_text(
        ';\n; Message Information file\n;\n[message]\norigmailbox=202\ncallerid="ACME Corp - Alice" '
        "<15551230001>\norigtime=1795850038\nmsg_id=1795850038-00000000\nduration=3\n"
    )
    rec = record(
        "1.1",
        Outcome.VOICEMAIL,
        mailbox="202@default",
        voicemail_msg="msg0000",
        voicemail_path="/var/spool/asterisk/voicemail/default/202/INBOX/msg0000",
    )
    vm = read_voicemail(tmp_path, rec)
    assert vm.file_found and vm.duration == 3
    d = render_ticket(
        rec, kind="voicemail", number_display="+1 555-123-0001", client_id=0, contact_id=0, voicemail=vm
    )
    assert "202@default" in d.details and "3 s" in d.details and "msg0000" in d.details
    (box / "msg0000.txt").unlink()  # FreePBX deleted it after mailing: still a ticket
    vm = read_voicemail(tmp_path, rec)
    assert not vm.file_found and vm.mailbox == "202@default"
    d = render_ticket(rec, kind="voicemail", number_display="", client_id=0, contact_id=0, voicemail=vm)
    assert "not readable" in d.details


def test_ticket_names_the_finer_outcome_with_the_pbx_codes() -> None:
    rec = record("1.1", Outcome.BUSY, detail="declined", tech_cause=603)
    draft = render_ticket(rec, kind="missed", number_display="x", client_id=0, contact_id=0)
    assert "<b>Outcome:</b> declined by the callee (SIP 603)" in draft.details
    older = record("1.2", Outcome.BUSY)  # older Asterisk: nothing finer on the wire, no row
    assert (
        "Outcome:"
        not in render_ticket(older, kind="missed", number_display="x", client_id=0, contact_id=0).details
    )
