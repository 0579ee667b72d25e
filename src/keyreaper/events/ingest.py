"""The ingest pipeline: files and folders → detected source → record batches → one Parquet
file per ingested log, in bounded memory (one batch at a time).

Dedupe: every file's SHA-256 is taken while it is read. A file whose path, size and mtime
match an earlier ingest is skipped without reading; a file whose content hash is already
known (same content under another name) is parsed but its events are discarded. Either way
ingesting the same file twice adds nothing.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from keyreaper.events import fastpath, linecheck
from keyreaper.events.reader import DEFAULT_MAX_LINE, TruncatedInput, head, open_log
from keyreaper.events.sources import all_sources, detect, named
from keyreaper.events.store import EventStore
from keyreaper.plugins import LogSource
from keyreaper.store import Database

Progress = Callable[[int, int], None]  # (bytes read of the current file, events so far)
KEEP_REJECTS = 1000
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejected:
    location: str
    reason: str


@dataclass
class FileResult:
    path: str
    source: str = ""
    status: str = "ingested"  # ingested, partial, no_events, duplicate, unrecognized, failed
    events: int = 0
    rejected: int = 0
    message: str = ""
    sha256: str = ""


@dataclass
class Summary:
    files: list[FileResult] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)
    rejected_total: int = 0

    @property
    def events(self) -> int:
        return sum(f.events for f in self.files if f.status in ("ingested", "partial"))

    def reject(self, location: str, reason: str) -> None:
        self.rejected_total += 1
        if len(self.rejects) < KEEP_REJECTS:
            self.rejects.append(Rejected(location, reason))


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given; folders walked (sorted, hidden entries skipped)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
        else:
            out.append(path)
    return out


class Ingest:
    def __init__(
        self,
        db: Database,
        store: EventStore,
        fmt: str | None = None,
        maps: Sequence[LogSource] = (),
        max_line: int = DEFAULT_MAX_LINE,
        progress: Progress | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.sources = all_sources(maps)
        self.forced = named(fmt, self.sources) if fmt else None
        self.max_line = max_line
        self.progress = progress
        self.summary = Summary()

    def run(self, paths: Sequence[Path]) -> Summary:
        for path in expand(paths):
            self.summary.files.append(self.one(path))
        return self.summary

    def _known(self, path: Path, st: os.stat_result) -> bool:
        rows = self.db.query(
            "SELECT sha256 FROM ingested_files WHERE path = ? AND size = ? AND mtime_ns = ?",
            (str(path.resolve()), st.st_size, st.st_mtime_ns),
        )
        return bool(rows)

    def one(self, path: Path) -> FileResult:
        try:
            return self._one(path)
        finally:
            linecheck.drop(path, self.max_line)  # a check begun early that nothing adopted

    def _one(self, path: Path) -> FileResult:
        result = FileResult(str(path))
        try:
            st = path.stat()
            if self._known(path, st):
                result.status, result.message = "duplicate", "already ingested (same file)"
                return result
            source = self.forced or detect(head(path), self.sources)
        except OSError as exc:
            result.status, result.message = "failed", f"cannot read ({exc.strerror})"
            self.summary.reject(str(path), result.message)
            return result
        if source is None:
            result.status = "unrecognized"
            result.message = "empty file" if st.st_size == 0 else "format not recognized"
            if st.st_size:
                result.message += " (choose one with --format; see keyreaper logs formats)"
            self.summary.reject(str(path), result.message)
            return result
        result.source = source.name
        for_file = getattr(source, "for_file", None)
        if for_file is not None:
            source = for_file(path)
        self._parse(path, st, source, result)
        return result

    def _fast(
        self, path: Path, source: LogSource, result: FileResult
    ) -> tuple[str, Path | None] | None:
        """Try the DuckDB fast path: (SHA-256, store file) when it worked, None to fall back."""
        fast_plan = getattr(source, "fast_plan", None)
        start = head(path, 4096).lstrip()[:1]
        if fast_plan is None or start != b"{" or re.match(rb'\{\s*"Records"', head(path, 64)):
            return None
        sql = fast_plan(path, str(path), self.max_line)
        if sql is None:
            return None
        progress = self.progress

        def tick(done: int, lines: int) -> None:
            if progress:
                progress(done, lines)

        batches, check = fastpath.run(sql, path, str(path), self.max_line, tick)
        pending = f".pending-{uuid.uuid4().hex}"
        try:
            written = self.store.write(source.name, batches, name=pending)
        except fastpath.FastPathFailed as exc:
            log.debug("%s: exact path (%s)", path, exc)
            return None
        result.events = check.lines
        return check.sha256, written

    def _parse(self, path: Path, st: os.stat_result, source: LogSource, result: FileResult) -> None:
        fast = self._fast(path, source, result)
        if fast is not None:
            self._commit(path, st, source, result, *fast)
            return
        opened = open_log(path)
        before = self.summary.rejected_total

        def on_reject(location: str, reason: str) -> None:
            result.rejected += 1
            self.summary.reject(location, reason)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                parse = source.parse(opened.stream, str(path), on_reject, self.max_line)  # type: ignore[call-arg]
                for batch in parse:
                    result.events += batch.num_rows
                    if self.progress:
                        self.progress(opened.counter.bytes_read, result.events)
                    yield batch
            except TruncatedInput as exc:
                result.status = "partial"
                on_reject(str(path), str(exc))

        pending = f".pending-{uuid.uuid4().hex}"
        try:
            written = self.store.write(source.name, batches(), name=pending)
            opened.counter.drain()
        except OSError as exc:
            result.status, result.message = "failed", f"read error ({exc.strerror or exc})"
            self.summary.reject(str(path), result.message)
            return
        finally:
            opened.close()
        if self.progress:
            self.progress(st.st_size, result.events)
        self._commit(path, st, source, result, opened.counter.sha256.hexdigest(), written, before)

    def _commit(
        self,
        path: Path,
        st: os.stat_result,
        source: LogSource,
        result: FileResult,
        digest: str,
        written: Path | None,
        before: int | None = None,
    ) -> None:
        """Keep the events unless the content is known; remember the file's hash."""
        result.sha256 = digest
        if self.db.query("SELECT 1 AS x FROM ingested_files WHERE sha256 = ?", (digest,)):
            if written:
                self.store.remove(written)
            result.status, result.message = "duplicate", "same content already ingested"
            result.events = 0
            return
        if not result.events:
            if result.status == "ingested":
                result.status = "no_events"
            if result.rejected and before is not None and self.summary.rejected_total > before:
                result.message = self._why_nothing(path, source)
            return
        final = written.with_name(f"{digest[:32]}.parquet") if written else None
        if written and final:
            os.replace(written, final)
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO ingested_files (sha256, path, size, mtime_ns, source, events,"
                " rejected, status, store_file, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sha256) DO NOTHING",
                (
                    digest,
                    str(path.resolve()),
                    st.st_size,
                    st.st_mtime_ns,
                    source.name,
                    result.events,
                    result.rejected,
                    result.status,
                    str(final.relative_to(self.store.root)) if final else "",
                    datetime.now(UTC).isoformat(),
                ),
            )

    def _why_nothing(self, path: Path, source: LogSource) -> str:
        """No event came out: say so, and whether another format fits the file."""
        guess = detect(head(path), self.sources)
        if self.forced is not None:
            hint = f"; it looks like {guess.name}" if guess and guess.name != source.name else ""
            return f"no record matched --format {source.name}{hint}"
        return f"no record could be read as {source.name}"
