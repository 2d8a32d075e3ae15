"""Insert many local files one after the other: what `datalake insert` and the demo do, callable from a DAG
or the API as well.

A file's failure is collected, not fatal to the others, unless the world fails the insert (a store
unreachable, credentials refused, a connection not defined): every next file would wait for the same
timeout to fail the same way, so the rest is not attempted. Ctrl-C stops at once: the file in flight is
rolled back, and what was done so far is returned. How it goes is told to a `Watcher`, so that the caller
shows it its own way (a progress bar, JSON lines as records commit, nothing).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import airflow_provider_datalake.ingest as ingest  # insert_datalake looked up per call: tests replace it
from airflow_provider_datalake.hooks.errors import outside_failure
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from airflow_provider_datalake.ingest import many
from datalake_catalog.catalog import Catalog, utcnow


@dataclass
class Inserted:
    done: list[dict[str, Any]] = field(default_factory=list)  # committed records, in the order inserted
    failed: list[tuple[Path, str]] = field(default_factory=list)
    already: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # content stored before (dedupe)
    interrupted: bool = False  # Ctrl-C: the file in flight is in `failed`, the rest in `not_attempted`
    stopped: str | None = None  # why the rest was not attempted when a store failed ("catalog unreachable")
    not_attempted: list[Path] = field(default_factory=list)


class Watcher:
    """What a caller of `insert_paths` sees as it goes; each method here does nothing or says the default."""

    track_bytes = False  # True: `sent` is called with the bytes of each file as they stream

    def starting(self, path: Path) -> None:
        """A file is about to be tried (from here on, an interrupt may have stored something)."""

    def sent(self, size: int) -> None:
        """``size`` more bytes of the file in flight were streamed."""

    def inserted(self, record: dict[str, Any], already_stored: bool) -> None:
        """A file's record is committed (or its content was stored before)."""

    def finished(self, path: Path, ok: bool) -> None:
        """A file is done, inserted or failed, and the next one follows."""

    def outside_failure(self, exc: BaseException) -> tuple[str, str] | None:
        """(what, one line) when ``exc`` is the world failing the insert, which stops the rest; None for a
        failure of this file alone."""
        typed = outside_failure(exc)
        return (type(typed).__name__, str(typed)) if typed is not None else None

    def interrupted(self) -> str:
        """Why the file in flight failed when the user interrupted."""
        return "interrupted: rolled back"


def _created_before(rec: dict[str, Any], moment: dt.datetime) -> bool:
    created = as_utc(rec.get("creation_date"))
    return created is not None and created < moment


def as_utc(value: Any) -> dt.datetime | None:
    """A catalog datetime as an aware UTC one (the catalog hands back naive UTC); None if not a datetime."""
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def insert_paths(
    paths: list[Path],
    *,
    swift: SwiftClient,
    catalog: Catalog,
    fmt: str | None,
    container: str | None,
    application: str | None,
    meta: dict[str, str],
    dedupe: bool,
    watcher: Watcher | None = None,
    jobs: int = 1,
) -> Inserted:
    """Insert files with `insert_datalake`, one by one, or ``jobs`` at a time (`many`), each atomic on its
    own; the outcomes are in the order of ``paths`` either way (see the module's docstring for what stops
    the rest)."""
    if jobs != 1:
        return _insert_parallel(
            paths,
            swift=swift,
            catalog=catalog,
            watch=watcher or Watcher(),
            jobs=jobs,
            options={
                "format": fmt,
                "container": container,
                "application": application,
                "other_data": meta,
                "dedupe": dedupe,
            },
        )
    watch = watcher or Watcher()
    result = Inserted()
    done, failed = result.done, result.failed
    for index, path in enumerate(paths):
        watch.starting(path)
        started = utcnow()  # ms precision, as stored: a record created before it was already there
        rec = None
        try:
            rec = ingest.insert_datalake(
                path,
                format=fmt,
                container=container,
                application=application,
                other_data=meta,
                dedupe=dedupe,
                swift=swift,
                catalog=catalog,
                progress=watch.sent if watch.track_bytes else None,
            )
            done.append(rec)
            already = _created_before(rec, started)
            if already:
                result.already.append((path, rec))
            watch.inserted(rec, already)
            ok = True
        except KeyboardInterrupt:
            if rec is None:  # else it is committed and listed already
                failed.append((path, watch.interrupted()))
            result.interrupted = True
            result.not_attempted = paths[index + 1 :]
            break
        except Exception as exc:
            outside = watch.outside_failure(exc)
            why = outside[1] if outside else str(exc)
            if outside is None and path.is_dir():
                why += f" (a directory: pass its files, e.g. {path}{os.sep}*)"
            failed.append((path, why))
            if outside is not None:
                result.stopped, result.not_attempted = outside[0], paths[index + 1 :]
                break
            ok = False
        watch.finished(path, ok)
    return result


def _insert_parallel(
    paths: list[Path],
    *,
    swift: SwiftClient,
    catalog: Catalog,
    watch: Watcher,
    jobs: int,
    options: dict[str, Any],
) -> Inserted:
    """`insert_paths` on `many.run_parallel`: workers with a Swift client each, outcomes in input order."""
    result = Inserted()
    local = threading.local()

    def work(index: int, cancel: threading.Event) -> tuple[dict[str, Any], bool]:
        if not hasattr(local, "swift"):
            local.swift = swift.clone()
        path = paths[index]
        watch.starting(path)
        started = utcnow()  # ms precision, as stored: a record created before it was already there
        rec: dict[str, Any] = ingest.insert_datalake(
            path,
            swift=local.swift,
            catalog=catalog,
            progress=watch.sent if watch.track_bytes else None,
            cancel=cancel,
            **options,
        )
        return rec, _created_before(rec, started)

    def report(index: int, outcome: tuple[dict[str, Any], bool] | None, error: BaseException | None) -> None:
        path = paths[index]
        if isinstance(error, many.NotStarted):
            result.not_attempted.append(path)
            return
        if outcome is not None:
            rec, already = outcome
            result.done.append(rec)
            if already:
                result.already.append((path, rec))
            watch.inserted(rec, already)
        elif isinstance(error, KeyboardInterrupt):
            result.failed.append((path, watch.interrupted()))
        else:
            assert error is not None
            outside = watch.outside_failure(error)
            why = outside[1] if outside else str(error)
            if outside is None and path.is_dir():
                why += f" (a directory: pass its files, e.g. {path}{os.sep}*)"
            result.failed.append((path, why))
            if outside is not None and result.stopped is None:
                result.stopped = outside[0]
        watch.finished(path, outcome is not None)

    run = many.run_parallel(
        len(paths),
        work,
        jobs=jobs,
        report=report,
        stops=lambda exc: watch.outside_failure(exc) is not None,
    )
    result.interrupted = run.interrupted
    return result
