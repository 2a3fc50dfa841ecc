"""Name the real cause when detection found no usable ITFlow API, for ``run``'s log and ``/readyz``.

``check`` reports the same facts line by line; this module folds them into one sentence, so a rejected
key, a 503, the web server's 404 page, an HTML page where JSON belongs and broken JSON are told apart
instead of all reading "no directory listing".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import httpx

from pbx_bridge.itflow.capabilities import Capabilities

__all__ = ["describe_answer", "explain", "summarise_answers"]


def describe_answer(answer: httpx.Response | Exception) -> str:
    """One probe's answer in a few words: ``HTTP 503 (HTML page)``, ``no connection (ConnectError)``."""
    if isinstance(answer, Exception):
        return f"no connection ({type(answer).__name__})"
    body = answer.content[:200].lstrip()
    kind = (
        "empty"
        if not body
        else "HTML page"
        if body[:1] == b"<"
        else "JSON"
        if body[:1] in (b"{", b"[")
        else "text"
    )
    return f"HTTP {answer.status_code} ({kind})"


def summarise_answers(seen: Iterable[str]) -> str:
    counts = Counter(seen)
    return ", ".join(f"{what} x{n}" for what, n in counts.most_common())


def explain(caps: Capabilities) -> str:
    """Why ``caps`` offers no feature (or none of the one asked for): the cause ``check`` would print."""
    notes = [str(n) for n in caps.notes]
    answers = caps.probe_answers
    heard = f" (API probes answered: {answers})" if answers else ""
    rejected = next((n for n in notes if "rejected the key" in n), "")
    if rejected:
        return f"ITFlow rejected the API key: {rejected}"
    if not (caps.v1_key_ok or caps.legacy_key_ok):
        failed = next((n for n in notes if " failed" in n), "")
        if failed:
            return f"ITFlow's answer to the key check was unusable: {failed}{heard}"
        if any(w in answers for w in ("HTTP 5", "no connection")):
            return f"ITFlow's web server is up but failing, not answering as ITFlow{heard}"
        return (
            f"no ITFlow API answered at this URL: check itflow.url (the base URL a browser uses) "
            f"and that ITFlow's web server serves PHP{heard}"
        )
    return "; ".join(notes[:3]) or f"detection found no usable API{heard}"
