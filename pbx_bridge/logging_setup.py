"""Logging: one line per event, journald-friendly text (no timestamps under systemd) or JSON."""

from __future__ import annotations

import json
import logging
import os
import sys


class OneLineWarnings(logging.Filter):
    """Python warnings (a library's DeprecationWarning, ...) as one log line: ``file:line: Category:
    message``, without the source line ``warnings.formatwarning`` appends."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        first = text.strip().splitlines()[0] if text.strip() else text
        record.msg, record.args = first, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            data.update(extra)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif os.environ.get("JOURNAL_STREAM"):  # journald stamps lines itself
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python warnings become log lines, one line each
    warn_log = logging.getLogger("py.warnings")
    if not any(isinstance(f, OneLineWarnings) for f in warn_log.filters):
        warn_log.addFilter(OneLineWarnings())
    # httpx logs every request URL at INFO; legacy URLs carry the key, so keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
