"""One run of a format's DAG: claim raw objects, load each into each target, record the outcome.

The steps are plain functions (the DAG factory wraps them in tasks, and users may call them from their own
DAGs). They hold no store-specific code: a target's ``store`` picks its loader (`gold.registry`).

- **claim**: committed -> processing, one guarded update per object, so concurrent runs never share one.
- **load**: stream the object from Swift, parse it per the descriptor, and hand typed batches to the
  store's loader (one transaction per object and target). Bad rows are written to a quarantine object in
  Swift as JSON lines with their reasons; over the descriptor's ratio the load is rolled back and fails.
- **finish**: processing -> processed only when every target the object was due to load recorded a success
  in this run; a target that failed fails the object, and a target that recorded nothing (its task was
  killed, or never ran) counts as a failure too, since nothing proves the data reached the store. Outcomes
  per target are kept in the record's ``successful_operations`` / ``failed_operations``.

Nothing stays ``processing`` for ever: the claim gives each object a lease (``lease_until``, the
descriptor's ``processing.lease_seconds``) that its load tasks renew while they work. When a run dies — a
task or worker killed, an executor that never runs the rest — the lease runs out, and the recovery sweep
(``recover_expired``, run by the triggers' shared catalog poll and by ``datalake health --recover``) puts
the object back to committed for another run, up to ``processing.max_attempts`` claims, then fails it with
the reason. A load that died without an outcome is retried the same way by ``finish``; a load that failed
with an error is not (the same bytes would fail again): ``datalake reprocess`` takes it once fixed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.gold.common import LoadResult
from airflow_provider_datalake.gold.registry import make_loader
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from datalake_catalog.catalog import Catalog, Status, utcnow

log = logging.getLogger(__name__)

QUARANTINE_CONTAINER = "datalake-quarantine"

#: catalog field: when set (``datalake reprocess ID --target T``), the next run loads only these targets
ONLY_TARGETS = "reprocess_targets"
#: the defaults of a descriptor's ``processing`` settings (`descriptors.model.Processing`)
DEFAULT_LEASE = dt.timedelta(seconds=300)
DEFAULT_MAX_ATTEMPTS = 3
NO_OUTCOME = "load task ended without an outcome (killed, or never ran)"


class QuarantineExceeded(ValueError):
    """Too many bad rows: the load is rolled back (the quarantine object still tells which and why)."""


class NotClaimed(RuntimeError):
    """The object is not in `processing` for this run (another run or a reprocess took it)."""


# --------------------------------------------------------------------------- claim / finish


def claim_objects(
    fmt: str,
    run_id: str,
    *,
    catalog: Catalog,
    limit: int = 100,
    ids: Iterable[str] | None = None,
    lease: dt.timedelta = DEFAULT_LEASE,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[str]:
    """Take committed objects of ``fmt`` for this run; each id is taken by exactly one claimer.

    Each claimed object gets a lease of ``lease`` (renewed by its loads), counts one more attempt and
    keeps ``max_attempts``, for the recovery sweep to know when to give up on it."""
    from airflow_provider_datalake.ingest.committed import committed_ids

    candidates = list(ids) if ids is not None else committed_ids(catalog, fmt, limit)
    claimed = []
    for rid in candidates:
        now = utcnow()
        done = catalog.transition(
            rid,
            Status.COMMITTED,
            Status.PROCESSING,
            set_fields={
                "processing_run": run_id,
                "processing_started": now,
                "lease_until": now + lease,
                "lease_seconds": lease.total_seconds(),
                "max_attempts": max_attempts,
            },
            extra_filter={"format": fmt},
            inc={"processing_attempts": 1},
        )
        if done is not None:
            claimed.append(rid)
    return claimed


def _attempts_left(rec: dict[str, Any]) -> bool:
    return int(rec.get("processing_attempts", 1)) < int(rec.get("max_attempts", DEFAULT_MAX_ATTEMPTS))


def finish_objects(
    ids: Iterable[str], run_id: str, *, catalog: Catalog, targets: Iterable[str] | None = None
) -> dict[str, str]:
    """processing -> processed, only with proof: every target in ``targets`` that the object was due to load
    in this run (all of them, or those a ``reprocess --target`` named) recorded a success in this run.

    A target that recorded nothing gets a failed outcome (``NO_OUTCOME``) and the object goes back to
    committed for another run while it has attempts left, else to failed; a target that recorded a failure
    fails the object. ``targets`` None (a DAG of an older release) checks only recorded failures.
    Returns each object's new status.
    """
    wanted = None if targets is None else set(targets)
    result = {}
    for rid in ids:
        rec = catalog.get(rid)
        if rec is None or rec.get("processing_run") != run_id:
            continue
        ops = [("ok", op) for op in rec.get("successful_operations", [])]
        ops += [("failed", op) for op in rec.get("failed_operations", [])]
        seen = {op.get("target") for _, op in ops if op.get("run_id") == run_id}
        failed = any(kind == "failed" and op.get("run_id") == run_id for kind, op in ops)
        due = set() if wanted is None else wanted & set(rec.get(ONLY_TARGETS) or wanted)
        missing = sorted(due - seen)
        for target in missing:
            outcome = {"target": target, "run_id": run_id, "error": NO_OUTCOME, "finished": utcnow()}
            catalog.add_outcome(rid, outcome, ok=False)
        if missing and not failed and _attempts_left(rec):
            new = Status.COMMITTED  # nothing says the bytes are bad: another run takes it
        else:
            new = Status.FAILED if (failed or missing) else Status.PROCESSED
        unset = (
            [ONLY_TARGETS, "lease_until"]
            if new is not Status.COMMITTED
            else ["processing_run", "lease_until"]
        )
        if catalog.transition(
            rid, Status.PROCESSING, new, extra_filter={"processing_run": run_id}, unset_fields=unset
        ):
            result[rid] = new.value
    return result


def recover_expired(catalog: Catalog, *, now: dt.datetime | None = None, limit: int = 200) -> dict[str, str]:
    """The recovery sweep: objects whose processing lease ran out (their run died, or its executor stopped
    running its tasks) go back to committed for another run while they have attempts left, else to failed,
    each with the reason in ``failed_operations``. Objects waiting for inference whose claim ran out are
    released the same way (`inference.drafts.release_expired`). Returns each recovered object's new status.
    """
    from airflow_provider_datalake.inference.drafts import release_expired

    now = now or utcnow()
    result: dict[str, str] = {}
    expired = {"status": Status.PROCESSING.value, "lease_until": {"$lt": now}}
    fields = {"processing_run": 1, "processing_attempts": 1, "max_attempts": 1, "lease_until": 1}
    for rec in catalog.raw_objects.find(expired, fields).limit(limit):
        run = rec.get("processing_run")
        retry = _attempts_left(rec)
        reason = (
            f"lease expired at {rec['lease_until']:%Y-%m-%d %H:%M:%S} UTC: run {run} stopped working on it"
        )
        if not retry:
            reason += f" (attempt {rec.get('processing_attempts', 1)} of {rec.get('max_attempts')}: gave up)"
        new = Status.COMMITTED if retry else Status.FAILED
        done = catalog.transition(
            rec["_id"],
            Status.PROCESSING,
            new,
            extra_filter={"processing_run": run, "lease_until": {"$lt": now}},
            unset_fields=["processing_run", "lease_until"] if retry else ["lease_until"],
            push={"failed_operations": {"target": None, "run_id": run, "error": reason, "finished": now}},
        )
        if done is not None:
            result[rec["_id"]] = new.value
    result.update(release_expired(catalog, now=now, limit=limit))
    return result


class LeaseKeeper:
    """Renews the processing leases of claimed objects every third of their length while a load task works
    on them, so only a run that is dead (or whose tasks never start) lets them run out.

    ``also``: the ids of the run's other objects. A run's objects wait for a slot while its other load
    tasks work; a run that is working is not dead, so its working tasks keep every lease of the run, and
    a burst claimed ahead of the slots is not taken back from a live run. Those are renewed in the
    background and only when due (a third of their lease or less left): the run's tasks share the work
    instead of each rewriting a hundred records."""

    def __init__(
        self,
        catalog: Catalog,
        recs: dict[str, Any] | Iterable[dict[str, Any]],
        run_id: str,
        *,
        also: Iterable[str] = (),
    ) -> None:
        recs = [recs] if isinstance(recs, dict) else list(recs)
        self.catalog, self.run_id = catalog, run_id
        self.record_ids = [rec["_id"] for rec in recs]
        mine = set(self.record_ids)
        self.others = [rid for rid in dict.fromkeys(also) if rid not in mine]
        seconds = min((float(r.get("lease_seconds", DEFAULT_LEASE.total_seconds())) for r in recs), default=0)
        self.length = dt.timedelta(seconds=seconds or DEFAULT_LEASE.total_seconds())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{run_id}", daemon=True)

    def _renew(self, record_id: str) -> None:
        self.catalog.renew_lease(
            record_id, utcnow() + self.length, Status.PROCESSING, extra_filter={"processing_run": self.run_id}
        )

    def _renew_due_others(self) -> None:
        due = utcnow() + self.length / 3
        for record_id in self.others:
            if self._stop.is_set():
                return
            rec = self.catalog.raw_objects.find_one(
                {"_id": record_id}, {"status": 1, "processing_run": 1, "lease_until": 1}
            )
            if rec is None or rec.get("status") != Status.PROCESSING.value:
                continue
            lease = rec.get("lease_until")
            if (
                rec.get("processing_run") == self.run_id
                and lease is not None
                and lease.replace(tzinfo=dt.UTC) < due
            ):
                self._renew(record_id)

    def _run(self) -> None:
        wait = 0.0  # the run's other objects are looked at once at the start
        while not self._stop.wait(wait):
            try:
                if wait:
                    for record_id in self.record_ids:
                        self._renew(record_id)
                self._renew_due_others()
            except Exception as exc:  # a catalog blip: the next renewal tries again, well in time
                log.warning("renewing the leases of run %s failed (%s); trying again later", self.run_id, exc)
            wait = self.length.total_seconds() / 3

    def __enter__(self) -> LeaseKeeper:
        for record_id in self.record_ids:
            self._renew(record_id)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reprocess(
    catalog: Catalog,
    *,
    ids: Iterable[str] = (),
    fmt: str | None = None,
    status: Iterable[str] = (),
    targets: Iterable[str] = (),
) -> list[str]:
    """Put objects back to committed so their format's DAG takes them again (loads are idempotent).

    With ``targets`` the next run loads only those targets of these objects (e.g. the one store that was
    down); the other targets' tasks skip them, so their stores are not written again.
    """
    only = sorted(set(targets))
    states = [Status(s) for s in status] or [Status.PROCESSED, Status.FAILED]
    query: dict[str, Any] = {"status": {"$in": [s.value for s in states]}}
    if fmt:
        query["format"] = fmt
    targets = list(ids) or [doc["_id"] for doc in catalog.raw_objects.find(query, {"_id": 1})]
    done = []
    for rid in targets:
        if catalog.transition(
            rid,
            states,
            Status.COMMITTED,
            # A reprocess is a new start: the attempts the recovery sweep counts begin again.
            set_fields={"processing_attempts": 0, **({ONLY_TARGETS: only} if only else {})},
            unset_fields=["processing_run", "lease_until"] + ([] if only else [ONLY_TARGETS]),
        ):
            done.append(rid)
    return done


# --------------------------------------------------------------------------- load


@dataclass
class _Tap:
    """Passes batches through while spooling bad rows to a temp file and counting, for the ratio check."""

    max_ratio: float
    good: int = 0
    bad: int = 0
    spool: Any = field(default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=8 << 20))  # noqa: SIM115 (closed in _finish_outcome)

    def __call__(self, batches: Iterable[Any]) -> Iterator[Any]:
        for batch in batches:
            self.good += len(batch.row_numbers)  # (not `rows`: a columnar batch would build its tuples)
            for bad in batch.bad:
                self.bad += 1
                self.spool.write(json.dumps(bad.as_dict(), default=str).encode() + b"\n")
            yield batch
        self.check()

    def reject(self, row_number: int, field: str | None, value: Any, error: str, record: Any = None) -> None:
        """A row the store refused (a loader's own check, e.g. a null time for InfluxDB): quarantine it
        like a parser's bad row. Loaders call it while consuming the batch the row came in."""
        self.good -= 1
        self.bad += 1
        bad = {"row_number": row_number, "field": field, "value": value, "error": error, "record": record}
        self.spool.write(json.dumps(bad, default=str).encode() + b"\n")

    def check(self) -> None:
        total = self.good + self.bad
        if total and self.bad / total > self.max_ratio:
            # Raised inside the loader's transaction, so nothing of this object is committed.
            raise QuarantineExceeded(
                f"{self.bad} of {total} rows are bad ({self.bad / total:.1%} > {self.max_ratio:.1%} allowed)"
            )


def _quarantine_name(fmt: str, record_id: str, target: str) -> str:
    return f"{fmt}/{record_id}/{target}.jsonl"


def _claimed(catalog: Catalog, record_id: str, run_id: str) -> dict[str, Any]:
    rec = catalog.get(record_id)
    if rec is None or rec["status"] != Status.PROCESSING.value or rec.get("processing_run") != run_id:
        raise NotClaimed(f"object {record_id} is not being processed by run {run_id}")
    return rec


def _load_claimed(
    descriptor: Descriptor,
    target: Any,
    rec: dict[str, Any],
    run_id: str,
    *,
    catalog: Catalog,
    swift: SwiftClient,
    batch_size: int,
) -> dict[str, Any]:
    if rec.get(ONLY_TARGETS) and target.name not in rec[ONLY_TARGETS]:
        # `reprocess --target`: another target is being re-run; this store already holds the object.
        return {"target": target.name, "store": target.store, "run_id": run_id, "skipped": True}
    outcome, _ = load_into_target(
        descriptor, target, rec, run_id, catalog=catalog, swift=swift, batch_size=batch_size
    )
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in outcome.items()}


def _target(descriptor: Descriptor, target_name: str) -> Any:
    target = next((t for t in descriptor.targets if t.name == target_name), None)
    if target is None:
        raise ValueError(f"format {descriptor.name} has no target {target_name}")
    return target


def load_object(
    descriptor: Descriptor,
    record_id: str,
    target_name: str,
    run_id: str,
    *,
    catalog: Catalog,
    swift: SwiftClient,
    batch_size: int = 10_000,
) -> dict[str, Any]:
    """Load one claimed object into one target; record the outcome (success or failure) in the catalog."""
    target = _target(descriptor, target_name)
    rec = _claimed(catalog, record_id, run_id)
    with LeaseKeeper(catalog, rec, run_id):
        return _load_claimed(
            descriptor, target, rec, run_id, catalog=catalog, swift=swift, batch_size=batch_size
        )


class LoadsFailed(RuntimeError):
    """Some objects of a load task did not load; each one's outcome is in the catalog, the others loaded."""


def load_objects(
    descriptor: Descriptor,
    record_ids: Iterable[str],
    target_name: str,
    run_id: str,
    *,
    catalog: Catalog,
    swift: SwiftClient,
    batch_size: int = 10_000,
    run_record_ids: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """Load several claimed objects into one target, one after the other, each with its own outcome in the
    catalog (one task for many small objects costs Airflow one slot's start-up, not one per object).

    Every object is tried: one that fails does not stop the next. While the task works it keeps the leases
    of its objects and of ``run_record_ids`` (every object its run claimed), so objects still waiting for
    a slot are not taken back from a live run (`LeaseKeeper`). Raises `LoadsFailed`, naming the failed
    objects, after the last one; a task killed half-way leaves the rest without an outcome, which `finish`
    sends to another run."""
    target = _target(descriptor, target_name)
    ids = list(record_ids)
    recs, errors = [], []
    for record_id in ids:
        try:
            recs.append(_claimed(catalog, record_id, run_id))
        except NotClaimed as exc:
            errors.append(str(exc))
    outcomes = []
    with LeaseKeeper(catalog, recs, run_id, also=run_record_ids):
        for rec in recs:
            try:
                outcomes.append(
                    _load_claimed(
                        descriptor, target, rec, run_id, catalog=catalog, swift=swift, batch_size=batch_size
                    )
                )
            except Exception as exc:  # recorded as the object's outcome by load_into_target
                errors.append(f"{rec['_id']}: {type(exc).__name__}: {exc}")
    if errors:
        failed = f"{len(errors)} of {len(ids)} object(s) did not load into {target_name}"
        raise LoadsFailed(f"{failed}: " + "; ".join(errors))
    return outcomes


def load_into_target(
    descriptor: Descriptor,
    target: Any,
    rec: dict[str, Any],
    run_id: str,
    *,
    catalog: Catalog | None,
    swift: SwiftClient,
    batches: Iterable[Any] | None = None,
    batch_size: int = 10_000,
) -> tuple[dict[str, Any], LoadResult]:
    """Load one raw object into one target: bad rows (the parser's and those the store refuses) go to a
    quarantine object in Swift with their reasons, and the outcome is appended to the record's
    ``successful_operations`` / ``failed_operations`` (unless ``catalog`` is None). The record's status is
    left alone: claiming and finishing belong to the run that owns the object.

    ``batches`` replaces reading and parsing the object (a caller that parsed it itself).
    Returns ``(outcome, LoadResult)``; on failure the outcome is recorded and the error raised.
    """
    from airflow_provider_datalake.parsing import parse

    record_id = rec["_id"]
    outcome: dict[str, Any] = {
        "target": target.name,
        "store": target.store,
        "run_id": run_id,
        "format": descriptor.name,
        "descriptor_version": descriptor.version,
        "started": utcnow(),
    }
    tap = _Tap(descriptor.quarantine.max_ratio)
    try:
        loader = make_loader(target, descriptor.fields)
        loader.ensure_table()
        if batches is None:
            chunks = swift.iter_object(rec["swift_container"], rec["swift_object_id"])
            batches = parse(descriptor, chunks, batch_size=batch_size)
        # Rows the store refuses are quarantined like the parser's bad rows.
        result = loader.load(record_id, tap(batches), reject=tap.reject)
        outcome.update(rows_loaded=result.rows_written, rows_in=tap.good + tap.bad)
    except Exception as exc:
        outcome.update(error=f"{type(exc).__name__}: {exc}", rows_in=tap.good + tap.bad)
        _finish_outcome(outcome, tap, descriptor, record_id, swift)
        if catalog is not None:
            catalog.add_outcome(record_id, outcome, ok=False)
        raise
    _finish_outcome(outcome, tap, descriptor, record_id, swift)
    if catalog is not None:
        # Under the record lock: the targets load in parallel, and FerretDB's updates are read-modify-write.
        catalog.add_outcome(record_id, outcome, ok=True, store=target.store)
    return outcome, result


def _finish_outcome(
    outcome: dict[str, Any], tap: _Tap, descriptor: Descriptor, record_id: str, swift: SwiftClient
) -> None:
    outcome["rows_quarantined"] = tap.bad
    outcome["finished"] = utcnow()
    if tap.bad:
        name = _quarantine_name(descriptor.name, record_id, outcome["target"])
        tap.spool.seek(0)
        swift.ensure_container(QUARANTINE_CONTAINER)
        swift.put_object(
            QUARANTINE_CONTAINER,
            name,
            tap.spool,
            content_type="application/x-ndjson",
            metadata={"record-id": record_id, "format": descriptor.name},
        )
        outcome["quarantine"] = f"{QUARANTINE_CONTAINER}/{name}"
    tap.spool.close()


# --------------------------------------------------------------------------- reading outcomes back


def latest_outcomes(rec: dict[str, Any], target: str | None = None) -> dict[str, dict[str, Any]]:
    """Each target's last outcome, success or failure (``{target: outcome}``), of every target or one."""
    latest: dict[str, dict[str, Any]] = {}
    for op in [*rec.get("successful_operations", []), *rec.get("failed_operations", [])]:
        name = op.get("target")
        wanted = name and (target is None or name == target)
        if wanted and str(op.get("finished", "")) >= str(latest.get(name, {}).get("finished", "")):
            latest[name] = {**op, "ok": op in rec.get("successful_operations", [])}
    return latest


@dataclass
class LongLine:
    """A quarantined line over the parser's line limit: never loaded whole, so only its size is shown."""

    size: int


def quarantined_rows(swift: SwiftClient, link: str) -> Iterator[dict[str, Any] | LongLine]:
    """The bad rows a load spooled to ``link`` (``container/object`` in its outcome), as stored: each with
    its row number, field, value and reason, streamed from Swift."""
    from airflow_provider_datalake.parsing.lines import LineSplitter

    container, _, obj = link.partition("/")
    for raw in LineSplitter(swift.iter_object(container, obj)):
        if not isinstance(raw, bytes):
            yield LongLine(raw.size)
            continue
        line = raw.decode().strip()
        if line:
            yield json.loads(line)
