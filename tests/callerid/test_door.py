"""What a caller-name door shows: the ASCII fold (Superfecta) never brings a splitter back."""

from __future__ import annotations

import random

from pbx_bridge.callerid.door import door_text
from pbx_bridge.directory.display import cut

# The set docs/callerid.md justifies, written out independently of the code.
DOCUMENTED = set('()[]{},:;|"\\')


def test_the_ascii_door_is_safe_and_no_longer_too() -> None:
    # Look-alikes that NFKD folds into the rule's characters (fullwidth and small forms, parenthesized
    # numbers) and folds that lengthen (roman numerals, unit signs): ?charset=ascii (Superfecta) must
    # neither bring a splitter back nor outgrow the bytes the name was cut to.
    rng = random.Random(13)
    alphabet = [chr(c) for c in range(0x20, 0x7f)] + list(
        "（）［］｛｝，：；｜＂＼﹙﹚﹕﹐﹔⑴⒇⑽⒜Ⅷⅷ㎉㏂㏍ßæ…äöü王👩")
    for _ in range(2000):
        name = cut("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50))), 40, 40)
        shown = door_text(name, ascii=True)
        assert shown.isascii() and not DOCUMENTED & set(shown), (name, shown)
        assert len(shown.encode()) <= len(name.encode()) <= 40
    fullwidth = "x\uff09\uff1aSet\uff08DB\uff08t/inj\uff09=PWNED"
    assert door_text(fullwidth, ascii=True) == "x -Set DB t/inj =PWNED"
