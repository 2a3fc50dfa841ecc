"""Publishing a built phonebook: every configured format rendered, written atomically, kept for HTTP.

Rules (docs/phonebook.md):

* **Atomic**: each file is written to a temp file in the same directory, fsynced, given its mode and
  renamed over the old one; a phone fetching mid-write gets the old file or the new one, never half.
* **Unchanged**: when the directory and the settings are what was last published, nothing is built
  and nothing is written; a file whose bytes did not change is not rewritten either.
* **Last good**: a failed pull never reaches the publisher (the service keeps the previous book).
* **Shrink guard**: a book that lost more than ``phonebook.shrink_guard`` of the last published entry
  count is refused (logged, counted in ``pbx_bridge_phonebook_shrink_guard_total``) unless forced.

The publisher is synchronous and CPU-bound; the daemon runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, overload

from pbx_bridge.directory.bulk import gc_paused, release
from pbx_bridge.directory.model import Party
from pbx_bridge.metrics import Metrics
from pbx_bridge.phonebook.entries import Book, NumberFormatter, build_book, source_digest
from pbx_bridge.phonebook.formats import FORMATS, FormatSpec, RenderContext
from pbx_bridge.phonebook.settings import PhonebookSettings

__all__ = ["Output", "PublishResult", "Publisher", "atomic_write"]

log = logging.getLogger("pbx_bridge.phonebook")

_SPOOL_MIN_PAGES = 64  # fewer pages than this are small enough to keep in memory
_WRITE_BUFFER = 1 << 20

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Status = Literal["published", "unchanged", "guarded"]


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via temp + fsync + rename (the directory is fsynced by the caller)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _fsync_dir(path: Path) -> None:
    """Best effort: the renames are already visible; this only makes them survive a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        log.debug("phonebook: cannot open %s to fsync it: %s", path, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.debug("phonebook: fsync of %s failed: %s", path, exc)
    finally:
        os.close(fd)


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"'


class PageSpool(Sequence[bytes]):
    """The pages of a paged format (Cisco: thousands of small pages for a 100k book) kept in one unlinked
    temporary file rather than in the process heap: tens of MB that the kernel's page cache may hold
    or drop. A page is read back with one ``pread``; the file vanishes when the spool is dropped."""

    def __init__(self, directory: Path, pages: Iterable[bytes]) -> None:
        self._file = tempfile.TemporaryFile(dir=directory, prefix=".phonebook-pages.")
        spans: list[tuple[int, int]] = []
        offset = 0
        try:
            for page in pages:
                self._file.write(page)
                spans.append((offset, len(page)))
                offset += len(page)
            self._file.flush()
        except BaseException:
            self._file.close()
            raise
        self._spans = spans

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        offset, size = self._spans[i]
        data = os.pread(self._file.fileno(), size, offset)
        if len(data) != size:
            raise OSError(f"phonebook page spool: short read ({len(data)} of {size} bytes)")
        return data


@dataclass(slots=True)
class Output:
    """One format's published pages. ``pages`` is None when they live only in files (``output_dir``)."""

    spec: FormatSpec
    etags: list[str]
    records: int
    pages: Sequence[bytes] | None = None
    paths: list[Path] = field(default_factory=list)
    _stat_etags: dict[int, tuple[tuple[int, int], str]] = field(default_factory=dict)

    @property
    def page_count(self) -> int:
        return len(self.etags)

    def page(self, n: int) -> bytes:
        """Page ``n`` (1-based); raises IndexError past the end, OSError when its file vanished."""
        if not 1 <= n <= len(self.etags):
            raise IndexError(n)
        if self.pages is not None:
            return self.pages[n - 1]
        return self.paths[n - 1].read_bytes()

    def etag(self, n: int) -> str:
        """The ETag of what page ``n`` serves now. A file-backed page may already hold the next
        publish's bytes (renamed in while this output is still current): its tag follows the file."""
        if self.pages is not None or not self.paths:
            return self.etags[n - 1]
        path = self.paths[n - 1]
        try:
            st = path.stat()
        except OSError:
            return self.etags[n - 1]
        key = (st.st_mtime_ns, st.st_size)
        cached = self._stat_etags.get(n)
        if cached is not None and cached[0] == key:
            return cached[1]
        tag = etag_of(path.read_bytes())
        self._stat_etags[n] = (key, tag)
        return tag


@dataclass(slots=True)
class PublishResult:
    status: Status
    entries: int
    previous: int
    written: list[Path] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""


class Publisher:
    """Holds the last good book's outputs; :meth:`publish` replaces them when something changed."""

    def __init__(
        self,
        settings: PhonebookSettings,
        *,
        public_url: str = "http://127.0.0.1:8734",
        state_path: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.ctx = RenderContext(settings, public_url)
        self.metrics = metrics
        self.state_path = state_path
        self._lock = threading.Lock()
        self.outputs: dict[str, Output] = {}
        self.book_digest = ""
        self.entries = 0
        self.published_at: datetime | None = None
        self.writes = 0  # files written since start (the benchmark counts them)
        # The last book's entries, kept only for query answers (Gigaset online directory search).
        self.book: Book | None = None
        self._built: Book | None = None  # the book of the publish running now (publish() frees it)
        self._source = ""
        self._load_state()

    # ------------------------------------------------------------------ state (survives restarts)
    def _load_state(self) -> None:
        if self.state_path is None:
            return
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.entries = int(data.get("entries", 0))
            self.book_digest = str(data.get("digest", ""))
            at = data.get("published_at")
            self.published_at = datetime.fromisoformat(at) if at else None
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError) as exc:
            log.warning("phonebook: ignoring unreadable state %s: %s", self.state_path, exc)

    def _save_state(self) -> None:
        if self.state_path is None:
            return
        body = json.dumps(
            {
                "entries": self.entries,
                "digest": self.book_digest,
                "published_at": self.published_at.isoformat() if self.published_at else None,
            }
        )
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.state_path, body.encode(), 0o600)

    # ------------------------------------------------------------------ helpers
    @property
    def formats(self) -> list[FormatSpec]:
        return [FORMATS[f] for f in self.settings.formats]

    def output(self, format_id: str) -> Output | None:
        return self.outputs.get(format_id)

    def _files_intact(self) -> bool:
        if self.settings.output_dir is None:
            return True
        return all(p.exists() for out in self.outputs.values() for p in out.paths)

    def _fingerprint(self, parties: Iterable[Party]) -> str:
        return source_digest(parties, self.settings) + "|" + self.ctx.public_url

    def _ensure_dir(self) -> Path | None:
        out = self.settings.output_dir
        if out is None:
            return None
        if not out.exists():
            out.mkdir(parents=True, exist_ok=True)
            os.chmod(out, self.settings.dir_mode)
        return out

    # ------------------------------------------------------------------ publish
    def publish(
        self,
        parties: Sequence[Party],
        plan: NumberFormatter,
        *,
        source: str = "",
        force: bool = False,
        progress: Progress | None = None,
    ) -> PublishResult:
        started = time.perf_counter()
        with self._lock, gc_paused():  # a bulk build: no cyclic GC passes over it (directory/bulk.py)
            result = self._publish(parties, plan, source, force, progress)
            # The book just built (unless kept for queries): its entries and derived records freed a
            # slice at a time, not in one cascade that holds the GIL (directory/bulk.py).
            release(self._take_apart_built())
        result.seconds = time.perf_counter() - started
        return result

    def _publish(
        self,
        parties: Sequence[Party],
        plan: NumberFormatter,
        source: str,
        force: bool,
        progress: Progress | None,
    ) -> PublishResult:
        previous = self.entries
        fingerprint = self._fingerprint(parties)
        if fingerprint == self._source and self.outputs and self._files_intact() and not force:
            self._succeeded()
            return PublishResult("unchanged", previous, previous, message="directory unchanged")
        if progress:
            progress("build", 0, 1)
        book = self._built = build_book(parties, plan, self.settings, source=source)
        if progress:
            progress("build", 1, 1)
        guard = self._guard(book, previous)
        if guard and not force:
            log.warning("phonebook: not published: %s (the last good book stays; --force overrides)", guard)
            if self.metrics is not None:
                self.metrics.phonebook_guarded.inc()
            return PublishResult("guarded", len(book), previous, message=guard)
        if guard:
            log.warning("phonebook: publishing despite the shrink guard (forced): %s", guard)
        if book.digest == self.book_digest and self.outputs and self._files_intact() and not force:
            self._source = fingerprint
            self._hold_book(book)
            self._succeeded()
            return PublishResult("unchanged", len(book), previous, message="entries unchanged")
        written, records = self._render_all(book, progress)
        now = datetime.now(UTC).replace(microsecond=0)
        if book.digest != self.book_digest or self.published_at is None:
            self.published_at = now
        self.book_digest, self.entries, self._source = book.digest, len(book), fingerprint
        self._hold_book(book)
        self._save_state()
        self._succeeded()
        log.info(
            "phonebook: published %d entries in %d formats (%d files written)",
            len(book),
            len(records),
            len(written),
        )
        return PublishResult("published", len(book), previous, written=written, records=records)

    def _take_apart_built(self) -> list[list[object]]:
        book, self._built = self._built, None
        if book is None or book is self.book:
            return []
        held: list[list[object]] = [list(book.entries)]
        held += [list(v) for v in book.cache.values() if isinstance(v, list)]
        book.cache.clear()
        return held

    def _hold_book(self, book: Book) -> None:
        # Holding the entries costs memory (about half a kilobyte each): only when a query needs them.
        self.book = book if self.settings.gigaset_online_directory else None

    def _succeeded(self) -> None:
        # "last success" counts unchanged syncs too: a quiet directory must not look like a stuck one
        if self.metrics is not None:
            self.metrics.phonebook_success.set(time.time())
            self.metrics.phonebook_entries.set(self.entries)

    def _guard(self, book: Book, previous: int) -> str:
        if previous <= 0:
            return ""
        lost = (previous - len(book)) / previous
        if lost > self.settings.shrink_guard:
            return (
                f"the directory shrank from {previous} to {len(book)} entries ({lost:.0%} lost, "
                f"more than phonebook.shrink_guard {self.settings.shrink_guard:.0%})"
            )
        return ""

    def _render_all(self, book: Book, progress: Progress | None) -> tuple[list[Path], dict[str, int]]:
        out_dir = self._ensure_dir()
        written: list[Path] = []
        records: dict[str, int] = {}
        outputs: dict[str, Output] = {}
        specs = self.formats
        for i, spec in enumerate(specs):
            if progress:
                progress(spec.id, i, len(specs))
            if out_dir is not None and not spec.page_size:
                # One file: streamed into its temp file as it is rendered, never whole in memory.
                path = out_dir / spec.file_name
                count, changed = self._render_to_file(spec, book, path, self.outputs.get(spec.id))
                outputs[spec.id] = Output(spec, [count[1]], count[0], paths=[path])
                records[spec.id] = count[0]
                if changed:
                    self.writes += 1
                    written.append(path)
                continue
            rendered = spec.render(book, self.ctx)
            etags = [etag_of(p) for p in rendered.pages]
            out = Output(spec, etags, rendered.records)
            if out_dir is None or spec.page_size:
                # Paged formats are served over HTTP (their page links point there); the file is
                # the first page, the entry point a phone's directory URL can name.
                out.pages = self._keep(rendered.pages) if spec.page_size else rendered.pages
            if out_dir is not None:
                old = self.outputs.get(spec.id)
                for n, page in enumerate(rendered.pages[:1] if spec.page_size else rendered.pages, start=1):
                    path = out_dir / spec.page_file_name(n)
                    out.paths.append(path)
                    if (
                        old is not None
                        and n <= old.page_count
                        and old.etags[n - 1] == etags[n - 1]
                        and path.exists()
                    ):
                        continue
                    if old is None and _same_file(path, page):
                        continue  # after a restart: the file already holds these bytes
                    atomic_write(path, page, self.settings.file_mode)
                    self.writes += 1
                    written.append(path)
            outputs[spec.id] = out
            records[spec.id] = rendered.records
            del rendered
        if out_dir is not None and written:
            _fsync_dir(out_dir)
        if progress:
            progress("done", len(specs), len(specs))
        self.outputs = outputs
        return written, records

    def _render_to_file(
        self, spec: FormatSpec, book: Book, path: Path, old: Output | None
    ) -> tuple[tuple[int, str], bool]:
        """Render ``spec`` into a temp file beside ``path`` (hashing as it goes), then rename it over
        ``path`` (mode, fsync: as :func:`atomic_write`) unless ``path`` already holds these bytes.
        Returns ((records, etag), whether the file was replaced)."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        write = replaced = False
        try:
            # lxml and the renderers write straight into a C-level buffered file (no Python call per
            # element); the ETag is computed from the file afterwards (page cache, 1 MB reads).
            with os.fdopen(fd, "wb", buffering=_WRITE_BUFFER) as f:
                rendered = spec.render(book, replace(self.ctx, sink=f))
                if f.tell() == 0:  # a renderer that builds its bytes in memory returned them
                    for page in rendered.pages:
                        f.write(page)
                f.flush()
                size = f.tell()
                etag = _etag_of_fd(f.fileno(), size)
                if old is not None and old.page_count and old.etags[0] == etag and path.exists():
                    unchanged = True
                else:  # after a restart: the file may already hold these bytes
                    unchanged = old is None and _same_content(path, Path(tmp), size)
                if not unchanged:
                    os.fchmod(f.fileno(), self.settings.file_mode)
                    os.fsync(f.fileno())
                    write = True
            if write:
                os.replace(tmp, path)
                replaced = True
        finally:
            if not replaced:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return (rendered.records, etag), replaced

    def _keep(self, pages: list[bytes]) -> Sequence[bytes]:
        """Many pages go to a spool file next to the state file (never a tmpfs: that is memory too);
        without a state directory, or when it cannot be written, they stay in memory."""
        if len(pages) < _SPOOL_MIN_PAGES or self.state_path is None:
            return pages
        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            return PageSpool(self.state_path.parent, pages)
        except OSError as exc:
            log.warning(
                "phonebook: cannot spool pages to %s (%s); keeping them in memory",
                self.state_path.parent,
                exc,
            )
            return pages


def _etag_of_fd(fd: int, size: int) -> str:
    """:func:`etag_of` of the first ``size`` bytes of an open file, read in 1 MB chunks."""
    h = hashlib.blake2b(digest_size=16)
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(_WRITE_BUFFER, size - offset), offset)
        if not chunk:
            raise OSError(f"phonebook temp file shorter than written ({offset} of {size} bytes)")
        h.update(chunk)
        offset += len(chunk)
    return '"' + h.hexdigest() + '"'


def _same_content(path: Path, other: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size and filecmp.cmp(path, other, shallow=False)
    except OSError:
        return False


def _same_file(path: Path, data: bytes) -> bool:
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False
