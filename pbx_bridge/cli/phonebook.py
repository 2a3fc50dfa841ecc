"""CLI verbs of the phonebook: ``phonebook sync``, ``phonebook export``, ``phonebook formats``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from pbx_bridge.cli.context import CommandContext
from pbx_bridge.directory.service import DirectorySync
from pbx_bridge.directory.sync import SyncError
from pbx_bridge.itflow.backend import Itflow
from pbx_bridge.numbers import NumberPlan
from pbx_bridge.phonebook.entries import build_book
from pbx_bridge.phonebook.formats import FORMATS
from pbx_bridge.phonebook.formats.base import RenderContext
from pbx_bridge.phonebook.publisher import atomic_write
from pbx_bridge.phonebook.service import PhonebookService, public_url_of
from pbx_bridge.store import Store

__all__ = ["TerminalProgress", "open_directory", "register"]

EXIT_OK, EXIT_FAIL = 0, 1


class TerminalProgress:
    """A one-line progress bar on a terminal (stderr); a no-op elsewhere (logs, pipes, systemd)."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "pull":
            text = "pulling the directory from ITFlow..." if done == 0 else "directory pulled"
            self._draw(text)
            return
        if stage == "build":
            self._draw("building entries..." if done == 0 else "entries built")
            return
        filled = int(self.WIDTH * done / max(total, 1))
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self._draw(f"[{bar}] {done}/{total} {'' if stage == 'done' else stage}")
        if stage == "done":
            self.stream.write("\n")
            self.stream.flush()
            self.active = False

    def _draw(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()
        self.active = True

    def close(self) -> None:
        if self.active:
            self.stream.write("\n")
            self.stream.flush()
            self.active = False


def _progress() -> TerminalProgress | None:
    return TerminalProgress(sys.stderr) if sys.stderr.isatty() else None


@contextlib.asynccontextmanager
async def open_directory(settings: Any) -> AsyncIterator[tuple[Any, Any]]:
    """The directory sync (with its stored snapshot loaded) and the number plan, closed on exit."""
    plan = NumberPlan(settings.numbers)
    store = Store.in_state_dir(settings.state_dir)
    itflow = Itflow.from_settings(settings.itflow)
    try:
        directory = DirectorySync(settings.directory, itflow, store, plan)
        directory.load()
        yield directory, plan
    finally:
        await itflow.aclose()
        store.close()


# ------------------------------------------------------------------ sync


async def cmd_sync(ctx: CommandContext) -> int:
    settings = ctx.settings()
    progress = _progress()
    async with open_directory(settings) as (directory, plan):
        service = PhonebookService(
            settings.phonebook, directory, plan, http=settings.http, state_dir=settings.state_dir
        )
        try:
            result = await service.sync(force=ctx.args.force, progress=progress)
        finally:
            if progress:
                progress.close()
    if result is None:
        msg = service.last_error or "nothing to publish (no directory yet)"
        if ctx.args.json:
            print(json.dumps({"status": "failed", "message": msg}))
        else:
            print(f"phonebook not published: {msg}", file=sys.stderr)
        return EXIT_FAIL
    if ctx.args.json:
        print(
            json.dumps(
                {
                    "status": result.status,
                    "entries": result.entries,
                    "previous": result.previous,
                    "written": [str(p) for p in result.written],
                    "records": result.records,
                    "seconds": round(result.seconds, 3),
                    "message": result.message,
                    "pull_error": service.last_error,
                }
            )
        )
    elif result.status == "guarded":
        print(
            f"phonebook NOT published: {result.message}; run with --force to publish anyway", file=sys.stderr
        )
    else:
        where = settings.phonebook.output_dir or "memory only (no phonebook.output_dir)"
        print(
            f"phonebook {result.status}: {result.entries} entries, {len(result.written)} files written "
            f"to {where} in {result.seconds:.2f} s"
        )
        if service.last_error:
            print(f"warning: {service.last_error}; published the stored directory", file=sys.stderr)
    return EXIT_OK if result.status in ("published", "unchanged") else EXIT_FAIL


# ------------------------------------------------------------------ export


async def cmd_export(ctx: CommandContext) -> int:
    settings = ctx.settings()
    spec = FORMATS[ctx.args.format]
    async with open_directory(settings) as (directory, plan):
        snapshot = directory.snapshot
        if not ctx.args.stored:
            try:
                snapshot = await directory.sync()
            except SyncError as exc:
                if snapshot is None:
                    print(f"cannot pull the directory: {exc}", file=sys.stderr)
                    return EXIT_FAIL
                print(f"warning: pull failed ({exc}); exporting the stored directory", file=sys.stderr)
        if snapshot is None:
            print("no stored directory (run without --stored to pull one)", file=sys.stderr)
            return EXIT_FAIL
    book = build_book(snapshot.parties, plan, settings.phonebook, source=snapshot.source)
    rendered = spec.render(book, RenderContext(settings.phonebook, public_url_of(settings.http)))
    pages = rendered.pages
    if ctx.args.output:
        out = Path(ctx.args.output)
        for n, page in enumerate(pages, start=1):
            path = out if n == 1 else out.with_name(f"{out.stem}-{n}{out.suffix}")
            atomic_write(path, page, settings.phonebook.file_mode)
        print(f"{spec.id}: {rendered.records} records, {len(pages)} file(s) from {out}", file=sys.stderr)
    else:
        page = ctx.args.page
        if not 1 <= page <= len(pages):
            print(f"no page {page} (1..{len(pages)})", file=sys.stderr)
            return EXIT_FAIL
        sys.stdout.buffer.write(pages[page - 1])
        sys.stdout.buffer.flush()
        if len(pages) > 1:
            print(f"page {page} of {len(pages)} (use --page N or -o FILE for all)", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------ formats


def cmd_formats(ctx: CommandContext) -> int:
    if ctx.args.json:
        print(
            json.dumps(
                [
                    {
                        "id": s.id,
                        "media_type": s.media_type,
                        "file_name": s.file_name,
                        "max_entries": s.max_entries,
                        "max_name": s.max_name,
                        "page_size": s.page_size,
                        "single_rooted": s.single_rooted,
                        "description": s.description,
                        "provisioning": s.provisioning,
                    }
                    for s in FORMATS.values()
                ],
                indent=2,
            )
        )
        return EXIT_OK
    for s in FORMATS.values():
        limits = []
        if s.max_entries:
            limits.append(f"<= {s.max_entries} entries")
        if s.max_name:
            limits.append(f"names <= {s.max_name}")
        if s.page_size:
            limits.append(f"{s.page_size} per page")
        print(f"{s.id}\t{s.file_name}\t{s.media_type}\t{', '.join(limits) or '-'}\t{s.description}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this feature's verbs to ``sub``. Each parser sets ``handler=fn(ctx) -> int``."""
    p = sub.add_parser(
        "phonebook",
        help="handset phonebooks: sync, export, list formats",
        description="Publish the ITFlow directory as handset phonebooks.",
    )
    verbs = p.add_subparsers(dest="phonebook_command", metavar="VERB", required=True)

    s = verbs.add_parser(
        "sync",
        help="pull the directory now and publish every configured format",
        description="Pull the directory from ITFlow and publish the phonebooks "
        "(files in phonebook.output_dir). A failed pull keeps the last book.",
    )
    s.add_argument(
        "--force",
        action="store_true",
        help="publish even if the directory shrank more than phonebook.shrink_guard",
    )
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(handler=cmd_sync, needs_config=True)

    e = verbs.add_parser(
        "export",
        help="write one format to a file or stdout",
        description="Render one phonebook format from a fresh pull (or --stored).",
    )
    e.add_argument(
        "--format",
        "-f",
        required=True,
        choices=list(FORMATS),
        metavar="F",
        help="format id (see 'phonebook formats')",
    )
    e.add_argument(
        "-o", "--output", metavar="FILE", help="write here (paged formats: FILE, FILE-2, ...); default stdout"
    )
    e.add_argument("--page", type=int, default=1, help="page to print for paged formats (stdout only)")
    e.add_argument("--stored", action="store_true", help="use the stored directory, do not pull")
    e.set_defaults(handler=cmd_export, needs_config=True)

    f = verbs.add_parser(
        "formats",
        help="list the formats, one per line, id first",
        description="List the phonebook formats: id, file name, media type, limits.",
    )
    f.add_argument("--json", action="store_true", help="print as JSON")
    f.set_defaults(handler=cmd_formats, needs_config=False)
