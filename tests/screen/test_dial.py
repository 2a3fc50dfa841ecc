"""tel: links -> digits, by the caller-ID number plan; destination patterns; the per-user limit."""

from __future__ import annotations

import pytest

from pbx_bridge.numbers import NumberPlan, NumbersSettings
from pbx_bridge.screen.dial import Dialer, DialRefused, read_target
from pbx_bridge.screen.settings import DialSettings

PLAN = NumberPlan()


@pytest.mark.parametrize(
    ("link", "digits", "e164"),
    [
        ("tel:(412) 555-0101", "4125550101", "+14125550101"),  # ITFlow's own markup
        ("tel:(412)%20555-0101", "4125550101", "+14125550101"),  # as the browser hands it over, escaped
        ("tel%3A%28412%29%20555-0101", "4125550101", "+14125550101"),  # escaped twice over (the handler's %s)
        ("tel:+1-412-555-0101", "4125550101", "+14125550101"),
        ("tel:14125550101", "4125550101", "+14125550101"),
        ("+44 20 7946 0958", "011442079460958", "+442079460958"),  # abroad: the international prefix
        ("tel:202", "202", ""),  # an internal extension as it is
    ],
)
def test_a_link_becomes_the_digits_asterisk_dials(link: str, digits: str, e164: str) -> None:
    target = read_target(link, PLAN)
    assert (target.digits, target.e164) == (digits, e164)


def test_an_extension_in_the_link_is_kept_apart() -> None:
    assert read_target("tel:+14125550101;ext=12", PLAN).extension == "12"
    assert read_target("(412) 555-0101 x 7", PLAN).extension == "7"


def test_another_region_reads_national_numbers_its_way() -> None:
    plan = NumberPlan(NumbersSettings(default_region="GB", international_prefixes=["00"]))
    assert read_target("tel:020 7946 0958", plan).digits == "02079460958"


@pytest.mark.parametrize(
    "junk", ["", "tel:", "tel:abc", "tel:;ext=1", "tel:12345678901234567890123", "x" * 100]
)
def test_junk_is_no_number(junk: str) -> None:
    with pytest.raises(DialRefused):
        read_target(junk, PLAN)


def test_deny_and_allow_patterns() -> None:
    dialer = Dialer(DialSettings(deny_pattern=r"^1?900"), PLAN, None, lambda: 0.0)
    with pytest.raises(DialRefused) as refused:
        dialer.check(read_target("tel:+1 900 555 0101", PLAN))
    assert refused.value.status == 403
    dialer.check(read_target("tel:(412) 555-0101", PLAN))
    only_local = Dialer(DialSettings(allow_pattern=r"^412"), PLAN, None, lambda: 0.0)
    with pytest.raises(DialRefused):
        only_local.check(read_target("tel:(724) 555-0120", PLAN))


async def test_per_user_rate_limit() -> None:
    sent: list[dict[str, str]] = []

    async def asterisk(action: dict[str, str]) -> dict[str, str]:
        sent.append(action)
        return {"Response": "Success", "Message": "Originate successfully queued"}

    dialer = Dialer(DialSettings(per_minute=2), PLAN, asterisk, lambda: 100.0)
    target = read_target("tel:(412) 555-0101", PLAN)
    await dialer.dial("dana", "201", target)
    await dialer.dial("dana", "201", target)
    with pytest.raises(DialRefused) as refused:
        await dialer.dial("dana", "201", target)
    assert refused.value.status == 429
    await dialer.dial("sam", "202", target)  # the limit is per technician
    assert [a["Channel"] for a in sent] == ["Local/201@from-internal"] * 2 + ["Local/202@from-internal"]
    # only Exten/Context with digits: never Application/Data
    assert all(a["Exten"] == "4125550101" and "Application" not in a and "Data" not in a for a in sent)
