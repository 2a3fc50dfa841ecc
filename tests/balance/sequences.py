"""The AGI commands of the documented readouts (docs/balance.md), every phrase present: what the balance
tests on loopback and in the lab expect the route to send."""

from __future__ import annotations

INTRO = 'STREAM FILE custom/pbxb-your-balance-is ""'
DOLLARS = 'STREAM FILE digits/dollars ""'
AND = 'STREAM FILE vm-and ""'
CENTS = 'STREAM FILE custom/pbxb-cents ""'
DOCUMENTED = {
    "0": [INTRO, 'SAY NUMBER 0 ""', DOLLARS],
    "100.5": [INTRO, 'SAY NUMBER 100 ""', DOLLARS, AND, 'SAY NUMBER 50 ""', CENTS],
    "1234.56": [INTRO, 'SAY NUMBER 1234 ""', DOLLARS, AND, 'SAY NUMBER 56 ""', CENTS],
    "-25": [INTRO, 'STREAM FILE digits/minus ""', 'SAY NUMBER 25 ""', DOLLARS],
}
# ACME Corp's balance at v26.3 (230.50, worked by hand in test_provider.py)
ACME_V26_3 = [INTRO, 'SAY NUMBER 230 ""', DOLLARS, AND, 'SAY NUMBER 50 ""', CENTS]
REFUSAL = ['STREAM FILE custom/pbxb-balance-unavailable ""', 'STREAM FILE vm-goodbye ""']
PIN_PROMPT = 'STREAM FILE custom/pbxb-enter-pin "0123456789*#"'
INCORRECT = 'STREAM FILE custom/pbxb-pin-incorrect ""'
