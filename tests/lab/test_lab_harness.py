"""The lab harness itself, without Asterisk: config placeholders, port settings, sipp log parsing."""

from __future__ import annotations

import re
import socket

import pytest

from tests.support.lab import LAB_DIR, ROUTES, LabPorts, SippResult, dtmf_caller_xml, parse_ami_block
from tests.support.lab import freepbx17 as lab_freepbx17
from tests.support.lab.freepbx17 import OVERLAY


def test_every_config_placeholder_has_a_value() -> None:
    known = set(LabPorts().placeholders()) | {"MODDIR", "AMI_USER", "AMI_SECRET"}
    used: set[str] = set()
    for conf in [*(LAB_DIR / "etc").glob("*.conf")]:
        used |= set(re.findall(r"@([A-Z0-9_]+)@", conf.read_text()))
    assert used and used <= known, used - known


def test_dialplans_define_every_route() -> None:
    plain = (LAB_DIR / "etc/extensions.conf").read_text()
    overlay = OVERLAY.read_text()
    snapshot = lab_freepbx17.folder()
    generated = (
        (snapshot / "snapshot/etc/asterisk/extensions_additional.conf").read_text()
        if snapshot and snapshot.is_dir()
        else None
    )
    for name, numbers in ROUTES.items():
        if "plain" in numbers:
            assert re.search(rf"^exten => ({numbers['plain']}|_2XX),1,", plain, re.M), name
        fpbx = numbers.get("freepbx17")
        if fpbx and not re.search(rf"^exten => {fpbx},1,", overlay, re.M):
            # not added by the overlay: an inbound route of the snapshot, or its catch-all (any DID)
            if generated is not None:
                assert re.search(rf"^exten => ({fpbx}|_\.),1,", generated, re.M), name


def test_overlay_directives_apply(tmp_path) -> None:
    """The overlay replaces a generated context whole and appends new blocks; a missing context: an error."""
    (tmp_path / "extensions_additional.conf").write_text(
        "[cidlookup]\nexten => old,1,Noop()\n\n;--== end of [cidlookup] ==--;\n\n"
        "[outbound-allroutes]\ninclude => outbound-allroutes-custom\nexten => foo,1,Noop(bar)\n\n"
        ";--== end of [outbound-allroutes] ==--;\n\n"
        "[other]\nexten => x,1,Noop()\n"
    )
    (tmp_path / "manager_custom.conf").write_text("[pbxbridge]\n")
    lab_freepbx17.apply_overlay(tmp_path, OVERLAY.read_text(), {"HTTP_PORT": "8734"})
    text = (tmp_path / "extensions_additional.conf").read_text()
    assert "exten => old" not in text and "http://127.0.0.1:8734/cid?number=" in text
    assert "[other]\nexten => x,1,Noop()" in text and "[ivr-1]" in text
    assert text.count("\n[outbound-allroutes]\n") == 1 and "include => outrt-1 ; pstn\n" in text
    assert "[pbxbridge-filtered]" in (tmp_path / "manager_custom.conf").read_text()
    (tmp_path / "extensions_additional.conf").write_text("[other]\n")
    with pytest.raises(ValueError, match="no \\[cidlookup\\] block"):
        lab_freepbx17.apply_overlay(tmp_path, OVERLAY.read_text(), {"HTTP_PORT": "8734"})


def test_ports_from_environment() -> None:
    ports = LabPorts.from_env({"PBX_BRIDGE_LAB_SIP_PORT": "6060", "PBX_BRIDGE_LAB_CALLEE_BASE_PORT": "7000"})
    assert ports.sip == 6060 and ports.ami == 5038
    assert ports.callee("203") == 7002 and ports.callee("pstn") == ports.pstn
    with pytest.raises(ValueError):
        ports.callee("205")  # no phone: that extension is the unavailable one


def test_dtmf_scenario() -> None:
    xml = dtmf_caller_xml("3#", "notify", 0, 5000)
    assert xml.count('<recv request="NOTIFY"/>') == 2
    assert "dtmf_2833_3.pcap" in xml and "dtmf_2833_pound.pcap" in xml
    assert 'timeout="5000"' in xml and "@" not in xml.replace("@[", "")
    with pytest.raises(ValueError):
        dtmf_caller_xml("3a", "delay", 1000, 5000)


def test_invite_display_names_from_a_sipp_log() -> None:
    log = (
        "----------------------------------------------- 2026-11-28 09:00:00.000000\n"
        "UDP message received [500] bytes :\n\n"
        "INVITE sip:201@127.0.0.1:5070 SIP/2.0\n"
        'From: "ACME \\"Corp\\" - Alice" <sip:15551230001@127.0.0.1>;tag=1\n\n'
        "----------------------------------------------- 2026-11-28 09:00:00.100000\n"
        "UDP message received [400] bytes :\n\n"
        "INVITE sip:201@127.0.0.1:5070 SIP/2.0\n"
        "f: <sip:15551230002@127.0.0.1>;tag=2\n\n"
    )
    assert SippResult("201", 0, log).invite_from_names() == ['ACME "Corp" - Alice', ""]


def test_ami_block_keeps_repeated_keys() -> None:
    msg = parse_ami_block("Response: Success\r\nOutput: line 1\r\nOutput: line 2\r\nActionID: 7")
    assert msg["Output"] == "line 1\nline 2" and msg["ActionID"] == "7" and msg.name == ""


async def test_sipp_left_running_by_a_failed_test_is_reaped(lab_plain) -> None:
    handle = await lab_plain.start_call(
        "202",
        caller_num=lab_plain.new_caller_number(),
        caller="cancel",
        hold_ms=30000,
        callees={"202": "ring"},
    )
    pids = set(lab_plain.controller.sipp_pids)
    assert len(pids) == 2  # caller + phone 202, as a test that failed before handle.wait() leaves them
    assert sorted(lab_plain.reap()) == sorted(pids)
    result = await handle.wait()
    assert result.caller.returncode not in (0, None)  # killed, so the phone's port is free again
    free = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    free.bind(("127.0.0.1", lab_plain.ports.callee("202")))
    free.close()
