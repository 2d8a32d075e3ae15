"""Formats nobody described, without human action: drafts in the catalog, a policy, additive versions.

A committed raw object that no descriptor matched (``format`` null) is handled by `handle_object`, which the
"unknown formats" DAG runs:

1. claim it (a marker ``inference`` on the record, one guarded update: two runs never take one object);
2. if an active descriptor's `match` rules recognise it (one pushed since it arrived), give it that format
   and stop;
3. infer a descriptor from the first bytes of the object (streamed from Swift, then the download stops);
   content that is no table (`structure.assess`) is marked ``opaque`` with the reason and makes no draft;
4. find the format of the same shape (`KnownFormats.family_for`: same parser options and field sources,
   whatever the file name; else the format named like the file, as a hint), compared by `evolution.evolve`:
   the object fits it -> it gets that format, or waits with its draft; it brings new fields -> a new
   version that only adds fields; a field the known version cannot read -> a new version that goes to
   review whatever the policy; no format -> a first draft, if the sample has the records and the
   confidence a draft needs (`structure.Thresholds`), else the object is marked opaque with that reason;
5. the policy of the object's application, else of its container (default ``review``) decides: ``review``
   leaves the draft waiting (``datalake formats drafts / approve / reject``); ``auto`` activates it, and the
   objects waiting for it get its format, so its DAG takes them.

Nothing is lost meanwhile: the object stays committed in the raw zone, its record names the draft it
waits for (``inference.state = waiting``), and approving the draft releases it.

Inferred descriptors carry no `match` rule on purpose: every unformatted object of the family comes back
here, which is what lets a later file with new columns produce a new version instead of losing them. Add a
`match` rule (and push the descriptor) to take a format out of this loop and own it by hand.
"""

from __future__ import annotations

import builtins
import datetime as dt
import logging
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.descriptors.matching import match_format
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.descriptors.store import ACTIVE, DRAFT, REJECTED, FormatStore
from airflow_provider_datalake.inference import infer_sample
from airflow_provider_datalake.inference.evolution import Evolution, _identity, evolve
from airflow_provider_datalake.inference.propose import DEFAULT_STORES, Inference, format_name, to_yaml
from airflow_provider_datalake.inference.sniff import SAMPLE_BYTES, NotInferable, Sample, read_sample
from airflow_provider_datalake.inference.structure import (
    Thresholds,
    _parser_options,
    shape_key,
    shape_summary,
)

if TYPE_CHECKING:
    from airflow_provider_datalake.hooks.swift_client import SwiftClient
    from datalake_catalog.catalog import Catalog

log = logging.getLogger(__name__)

POLICIES = "format_policies"
REVIEW, AUTO = "review", "auto"
MODES = (REVIEW, AUTO)
#: How long a claimed object may stay "inferring" before another run may take it (a crashed task).
CLAIM_LEASE = dt.timedelta(minutes=15)
ORIGIN = "inferred"
#: The catalog filter of objects the unknown-formats DAG takes (the trigger uses it too).
UNCLAIMED: dict[str, Any] = {"format": None, "inference": {"$exists": False}}
#: Objects waiting for a steward's review of their draft: committed, still without a format (the status and
#: format are spelled out, though implied, so the query walks the catalog's status/format index).
WAITING: dict[str, Any] = {"status": "committed", "format": None, "inference.state": "waiting"}


def _now() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# ------------------------------------------------------------------------------------------------ policy


class PolicyStore:
    """``review`` or ``auto`` per container or per application (``format_policies`` collection)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    @property
    def collection(self) -> Any:
        return self.catalog.db[POLICIES]

    def set(self, mode: str, *, container: str | None = None, application: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"policy must be one of {', '.join(MODES)}, got {mode!r}")
        if (container is None) == (application is None):
            raise ValueError("give a container or an application (one of them)")
        scope, value = ("container", container) if container is not None else ("application", application)
        self.collection.replace_one(
            {"_id": f"{scope}:{value}"},
            {"_id": f"{scope}:{value}", "scope": scope, "value": value, "mode": mode, "updated_at": _now()},
            upsert=True,
        )

    def mode_for(self, *, container: str | None, application: str | None) -> str:
        """The application's policy wins (it is the more specific: one producer), then the container's."""
        ids = [f"application:{application}"] if application else []
        ids += [f"container:{container}"] if container else []
        found = {d["_id"]: d["mode"] for d in self.collection.find({"_id": {"$in": ids}})} if ids else {}
        return next((found[i] for i in ids if i in found), REVIEW)

    def list(self) -> list[dict[str, Any]]:
        return [
            {k: d.get(k) for k in ("scope", "value", "mode", "updated_at")}
            for d in self.collection.find({}).sort([("_id", 1)])
        ]


# ------------------------------------------------------------------------------------------------ drafts


class Drafts:
    """Draft descriptors over the catalog's versioned format store."""

    def __init__(self, store: FormatStore) -> None:
        self.store = store

    @property
    def catalog(self) -> Catalog:
        return self.store.catalog

    def family(self, name: str) -> list[dict[str, Any]]:
        """Every stored version of a name, oldest first (raw documents: origin and reasons included)."""
        return list(self.store.collection.find({"name": name}).sort("version", 1))

    def push_draft(
        self,
        descriptor: Descriptor,
        *,
        reason: str,
        source: str | None = None,
        confidence: float | None = None,
    ) -> int:
        """Store a draft with what groups objects under it (its shape key) and what a reviewer reads first
        (the shape's summary, the confidence)."""
        if confidence is None and descriptor.evidence is not None:
            confidence = descriptor.evidence.confidence
        return self.store.push(
            descriptor,
            source_text=to_yaml(descriptor),
            author="datalake-inference",
            status=DRAFT,
            extra={
                "origin": ORIGIN,
                "review_reason": reason,
                "inferred_from": source,
                "shape_key": shape_key(descriptor),
                "shape": shape_summary(descriptor),
                "confidence": confidence,
            },
        )

    def list(self, name: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"status": DRAFT, **({"name": name} if name else {})}
        docs = self.store.collection.find(query).sort([("name", 1), ("version", 1)])
        waiting: dict[tuple[str, int], builtins.list[str]] = {}
        for rec in self.catalog.raw_objects.find(WAITING, {"inference": 1}):
            key = (rec["inference"].get("format"), rec["inference"].get("version"))
            waiting.setdefault(key, []).append(rec["_id"])
        rows = []
        for d in docs:
            shape, confidence = d.get("shape"), d.get("confidence")
            if shape is None:  # a draft stored before shapes were recorded
                try:
                    desc = self.store.get(d["name"], d["version"])
                except Exception:  # an invalid draft is listed all the same: approving it says why
                    desc = None
                if desc is not None:
                    shape = shape_summary(desc)
                    confidence = desc.evidence.confidence if desc.evidence is not None else None
            objects = sorted(waiting.get((d["name"], d["version"]), []))
            rows.append(
                {
                    "name": d["name"],
                    "version": d["version"],
                    "created_at": d.get("created_at"),
                    "reason": d.get("review_reason"),
                    "source": d.get("inferred_from"),
                    "shape": shape,
                    "confidence": confidence,
                    "waiting": len(objects),
                    "objects": objects,
                }
            )
        return rows

    def _draft_version(self, name: str, version: int | None) -> int:
        drafts = [d["version"] for d in self.family(name) if d.get("status") == DRAFT]
        if version is None:
            if not drafts:
                raise LookupError(f"no draft of {name!r}")
            return max(drafts)
        if version not in drafts:
            raise LookupError(f"version {version} of {name!r} is not a draft")
        return version

    def approve(
        self, name: str, version: int | None = None, *, by: str | None = None
    ) -> tuple[int, builtins.list[str]]:  # `list` here is Drafts.list
        """Activate a draft (the latest by default) and release the objects waiting for it or for an older
        draft of the name; returns (version, released object ids)."""
        version = self._draft_version(name, version)
        self.store.get(name, version)  # still valid under today's model, or DescriptorError
        self.store.set_status(name, version, ACTIVE, expected=DRAFT, approved_by=by, approved_at=_now())
        # Older drafts are folded into this one (each new draft only adds to the previous).
        for doc in self.family(name):
            if doc.get("status") == DRAFT and doc["version"] < version:
                self.store.set_status(name, doc["version"], REJECTED, expected=DRAFT, superseded_by=version)
        return version, release(self.catalog, name, version)

    def reject(
        self, name: str, version: int | None = None, *, by: str | None = None, reason: str = ""
    ) -> int:
        """The draft stays in the history as rejected; its waiting objects stay committed, unformatted and
        marked ``rejected`` (not inferred again): a hand-written descriptor or `datalake formats infer`
        can take over."""
        version = self._draft_version(name, version)
        self.store.set_status(
            name, version, REJECTED, expected=DRAFT, rejected_by=by, rejected_at=_now(), reject_reason=reason
        )
        self.catalog.raw_objects.update_many(
            {**WAITING, "inference.format": name, "inference.version": version},
            {"$set": {"inference.state": "rejected"}},
        )
        return version


def release(catalog: Catalog, name: str, version: int) -> list[str]:
    """Objects waiting for ``name`` at ``version`` or before get the format: its DAG takes them."""
    ids = [
        r["_id"]
        for r in catalog.raw_objects.find({**WAITING, "inference.format": name}, {"inference": 1})
        if int(r["inference"].get("version", 0)) <= version
    ]
    return [rid for rid in ids if _set_format(catalog, rid, name, version, expect_state="waiting")]


def _set_format(catalog: Catalog, rid: str, name: str, version: int, *, expect_state: str) -> bool:
    """Give a waiting object its format. Its dedupe key follows (``<format>:<sha256>``), so the same content
    inserted later under that format is recognised; if that content is already stored under the format,
    the object keeps its own key (it is processed all the same) and the duplicate is logged."""
    # the catalog loads pymongo: imported here so that importing this module stays light (the caller holds
    # a Catalog, so it is loaded by then).
    from datalake_catalog.catalog import dedupe_key, is_duplicate_key

    guard = {"status": "committed", "format": None, "inference.state": expect_state}
    changes = {
        "format": name,
        "inference.state": "formatted",
        "inference.version": version,
        "inference.formatted_at": _now(),
        "last_modified": _now(),
    }
    rec = catalog.raw_objects.find_one({"_id": rid}, {"dedupe": 1, "sha256": 1})
    if rec is not None and rec.get("dedupe") and rec.get("sha256"):
        keyed = {**changes, "dedupe_key": dedupe_key(name, rec["sha256"])}
        try:
            return catalog.update_guarded(rid, guard, {"$set": keyed}) is not None
        except Exception as exc:
            if not is_duplicate_key(exc):
                raise
            log.warning("object %s: the same content is already stored as format %s", rid, name)
    return catalog.update_guarded(rid, guard, {"$set": changes}) is not None


# ------------------------------------------------------------------------------------------------ objects


def claim_unformatted(catalog: Catalog, run_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Take committed objects without format for this run: one query for the candidates, then one
    guarded update each (by ``_id``: see `Catalog.update_guarded`)."""
    now = _now()
    stale = {"format": None, "inference.state": "inferring", "inference.until": {"$lt": now}}
    claimed = []
    claim = {"$set": {"inference": {"state": "inferring", "run_id": run_id, "until": now + CLAIM_LEASE}}}
    for query in (UNCLAIMED, stale):
        guard = {"status": "committed", **query}
        cursor = catalog.raw_objects.find(guard, {"_id": 1})
        for doc in cursor.sort([("creation_date", 1), ("_id", 1)]).limit(limit):
            taken = catalog.update_guarded(doc["_id"], guard, claim)
            if taken is not None and taken.get("inference", {}).get("run_id") == run_id:
                claimed.append(taken)
            if len(claimed) >= limit:
                return claimed
    return claimed


def release_expired(
    catalog: Catalog, *, now: dt.datetime | None = None, limit: int = 200, max_attempts: int = 3
) -> dict[str, str]:
    """Objects whose inference claim ran out (the task died) are released for the next run of the
    unknown-formats DAG (whose trigger sees only unclaimed objects); after ``max_attempts`` claims the
    inference is marked failed with the reason. Part of `processing.recover_expired`'s sweep."""
    now = now or _now()
    stale = {
        "status": "committed",
        "format": None,
        "inference.state": "inferring",
        "inference.until": {"$lt": now},
    }
    result: dict[str, str] = {}
    for rec in catalog.raw_objects.find(stale, {"inference": 1, "inference_attempts": 1}).limit(limit):
        attempts = int(rec.get("inference_attempts", 0)) + 1
        run = rec["inference"].get("run_id")
        if attempts < max_attempts:
            update: dict[str, Any] = {"$unset": {"inference": ""}, "$set": {"inference_attempts": attempts}}
            state = "committed"
        else:
            reason = (
                f"inference claim expired {attempts} times (run {run} last): the task dies on this object"
            )
            update = {"$set": {"inference": {"state": "failed", "run_id": run, "at": now, "reason": reason}}}
            update["$set"]["inference_attempts"] = attempts
            state = "inference failed"
        if catalog.update_guarded(rec["_id"], {**stale, "inference.run_id": run}, update) is not None:
            result[rec["_id"]] = state
    return result


def _mark(catalog: Catalog, rid: str, run_id: str, **inference: Any) -> None:
    catalog.update_guarded(
        rid,
        {"inference.run_id": run_id},
        {"$set": {"inference": {"run_id": run_id, "at": _now(), **inference}, "last_modified": _now()}},
    )


def _hint_name(record: dict[str, Any]) -> str:
    """The name an object's format would get: from its file name without its numbering, else its
    application or container (only a hint: objects are grouped by shape)."""
    return format_name(
        record.get("original_object_name"),
        fallback=record.get("application") or record.get("swift_container") or "inferred",
    )


def _not_human(store: FormatStore, base: str) -> str:
    """``base``, or '<base>_inferred' when a hand-written descriptor has it: inference never versions a
    human's format."""
    name = base
    for n in range(1, 100):
        docs = list(store.collection.find({"name": name}, {"origin": 1}).limit(1))
        if not docs or docs[0].get("origin") == ORIGIN:
            return name
        name = f"{base[:50]}_inferred" if n == 1 else f"{base[:50]}_inferred_{n}"
    raise RuntimeError(f"no free format name for {base!r}")


@dataclass
class Outcome:
    record_id: str
    action: str  # matched | routed | activated | review | opaque | failed
    format: str | None = None
    version: int | None = None
    detail: str = ""
    released: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "", [])}


@dataclass
class Prepared:
    """What the parallel stage learnt of one claimed object: a matching descriptor, or the inference from its
    one sample read, or why there is none (``opaque``: not a text format this project parses)."""

    record: dict[str, Any]
    matched: tuple[str, int] | None = None
    inference: Inference | None = None
    sample: Sample | None = None
    opaque: str = ""


def prepare(
    record: dict[str, Any],
    *,
    swift: SwiftClient,
    active: Sequence[Descriptor],
    stores: Sequence[str] = DEFAULT_STORES,
    max_bytes: int | None = None,
) -> Prepared:
    """Match the object against the active descriptors' rules, else read its first bytes once (the
    download stops there) and infer. No catalog access: many of these run at once, one per pool worker."""
    matched = match_format(
        active,
        container=record.get("swift_container", ""),
        content_type=record.get("content_type") or "",
        filename=record.get("original_object_name"),
        application=record.get("application"),
    )
    if matched is not None:
        return Prepared(record, matched=(matched, next((d.version for d in active if d.name == matched), 0)))
    chunks = swift.iter_object(record["swift_container"], record["swift_object_id"])
    sample = read_sample(chunks, max_bytes or SAMPLE_BYTES)
    try:
        inference = infer_sample(
            sample,
            name=_hint_name(record),
            source=record.get("original_object_name") or record["_id"],
            stores=stores,
        )
    except NotInferable as exc:
        return Prepared(record, sample=sample, opaque=str(exc))
    return Prepared(record, inference=inference, sample=sample)


def _identities(descriptor: Descriptor) -> frozenset[tuple[str, tuple[str, ...]]]:
    return frozenset(_identity(f) for f in descriptor.fields)


class KnownFormats:
    """The inferred formats a new object may join, read from the format store: per name, the reference
    version (the newest draft, else the active one) and the shape keys of all its versions. Parsed
    descriptors are cached (a stored version never changes)."""

    def __init__(self, store: FormatStore) -> None:
        self.store = store
        self._parsed: dict[tuple[str, int], Descriptor] = {}

    def descriptor(self, name: str, version: int) -> Descriptor:
        key = (name, version)
        if key not in self._parsed:
            found = self.store.get(name, version)
            if found is None:
                raise LookupError(f"format {name} version {version} is gone")
            self._parsed[key] = found
        return self._parsed[key]

    def families(self) -> dict[str, tuple[dict[str, Any], set[str]]]:
        """name -> (reference version's document, shape keys of its versions), inferred formats only."""
        docs = self.store.collection.find(
            {"origin": ORIGIN}, {"name": 1, "version": 1, "status": 1, "shape_key": 1, "superseded_by": 1}
        )
        by_name: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            if doc.get("status") in (DRAFT, ACTIVE) or doc.get("superseded_by"):
                by_name.setdefault(doc["name"], []).append(doc)
        out: dict[str, tuple[dict[str, Any], set[str]]] = {}
        for name, versions in by_name.items():
            versions.sort(key=lambda d: d["version"])
            active = next((d for d in reversed(versions) if d.get("status") == ACTIVE), None)
            draft = next((d for d in reversed(versions) if d.get("status") == DRAFT), None)
            newer = draft is not None and (active is None or draft["version"] > active["version"])
            reference = draft if newer else active
            if reference is None:
                continue
            keys = {d.get("shape_key") or shape_key(self.descriptor(name, d["version"])) for d in versions}
            out[name] = (reference, keys)
        return out

    def family_for(
        self, proposal: Descriptor, sample: Sample, hint: str
    ) -> tuple[str, Descriptor, dict[str, Any], Evolution] | None:
        """The inferred format this object belongs to, by shape first: a format with one of its versions of
        the same shape, or whose reference reads the sample as it is (fewer fields: they stay null), wins
        whatever its name; else the format named like the file, if it has the same parser options (it may
        gain fields). None: a new format."""
        key, mine = shape_key(proposal), _identities(proposal)
        options = _parser_options(proposal)
        exact, subset = [], []
        families = self.families()
        for name, (reference, keys) in families.items():
            known = self.descriptor(name, reference["version"])
            if _parser_options(known) != options:
                continue
            if key in keys:
                exact.append((name, known, reference))
            elif mine <= _identities(known):
                subset.append((name, known, reference))
        tried: dict[str, Evolution] = {}
        for name, known, reference in [*exact, *subset]:
            evolution = evolve(known, proposal, sample)
            if evolution.kind == "same":
                return name, known, reference, evolution
            tried[name] = evolution
        if exact:  # one shape, one format: what the object changes goes to that format's next version
            name, known, reference = exact[0]
            return name, known, reference, tried[name]
        if hint in families:
            reference = families[hint][0]
            known = self.descriptor(hint, reference["version"])
            if _parser_options(known) == options:
                return hint, known, reference, evolve(known, proposal, sample)
        return None

    @staticmethod
    def free_name(base: str, taken: Iterable[str]) -> str:
        names = set(taken)
        if base not in names:
            return base
        n = 2
        while f"{base[:58]}_{n}" in names:
            n += 1
        return f"{base[:58]}_{n}"


def handle_object(
    record: dict[str, Any],
    run_id: str,
    *,
    catalog: Catalog,
    swift: SwiftClient,
    stores: Sequence[str] = DEFAULT_STORES,
    schema: str | None = None,
    active: Iterable[Descriptor] | None = None,
    max_bytes: int | None = None,
    thresholds: Thresholds | None = None,
    known: KnownFormats | None = None,
    policies: dict[tuple[str | None, str | None], str] | None = None,
) -> Outcome:
    """One claimed unformatted object: match, route, group with its shape, or infer a draft (activated
    under `auto`); content that is no table is marked opaque and makes no draft."""
    store = FormatStore(catalog)
    descriptors = list(active) if active is not None else store.list_active()
    prepared = prepare(record, swift=swift, active=descriptors, stores=stores, max_bytes=max_bytes)
    return decide(
        prepared,
        run_id,
        catalog=catalog,
        schema=schema,
        thresholds=thresholds,
        known=known or KnownFormats(store),
        policies=policies,
    )


#: The record lock that serialises grouping decisions (two objects of one new shape make one draft).
DECIDE_LOCK = "inference:shapes"


def decide(
    prepared: Prepared,
    run_id: str,
    *,
    catalog: Catalog,
    schema: str | None = None,
    thresholds: Thresholds | None = None,
    known: KnownFormats,
    policies: dict[tuple[str | None, str | None], str] | None = None,
) -> Outcome:
    """The catalog side of one prepared object: its format, the draft it joins or founds, or opaque."""
    record, rid = prepared.record, prepared.record["_id"]
    if prepared.matched is not None:
        matched, version = prepared.matched
        _mark(catalog, rid, run_id, state="waiting", format=matched, version=version)
        _set_format(catalog, rid, matched, version, expect_state="waiting")
        return Outcome(rid, "matched", matched, version)
    inference, sample = prepared.inference, prepared.sample
    if prepared.opaque or inference is None or sample is None:
        _mark(catalog, rid, run_id, state="opaque", reason=prepared.opaque or "not inferable")
        return Outcome(rid, "opaque", detail=prepared.opaque)
    if inference.assessment.opaque:
        _mark(catalog, rid, run_id, state="opaque", reason=inference.assessment.reason)
        return Outcome(rid, "opaque", detail=inference.assessment.reason)
    proposal = inference.descriptor
    if schema:
        proposal = _in_schema(proposal, schema)
    thresholds = thresholds or Thresholds()
    where = (record.get("swift_container"), record.get("application"))
    if policies is not None and where in policies:
        mode = policies[where]
    else:
        mode = PolicyStore(catalog).mode_for(container=where[0], application=where[1])
        if policies is not None:
            policies[where] = mode
    drafts = Drafts(known.store)
    hint = _not_human(known.store, proposal.name)
    if hint != proposal.name:
        proposal = _renamed(proposal, hint)
    with catalog.record_lock(DECIDE_LOCK, timeout=120.0):
        found = known.family_for(proposal, sample, hint)
        if found is not None:
            name, reference, ref_doc, evolution = found
            if evolution.kind == "same" and ref_doc.get("status") == ACTIVE:
                _mark(catalog, rid, run_id, state="waiting", format=name, version=reference.version)
                _set_format(catalog, rid, name, reference.version, expect_state="waiting")
                return Outcome(rid, "routed", name, reference.version)
            if evolution.kind == "same":  # fits the pending draft: wait with it
                _mark(catalog, rid, run_id, state="waiting", format=name, version=reference.version)
                return Outcome(rid, "review", name, reference.version, "waits for the pending draft")
            additions = [*evolution.added, *(f"null marker {m!r}" for m in evolution.markers)]
            reason = (
                f"adds {', '.join(additions)}"
                if evolution.kind == "additive"
                else f"conflict: {', '.join(evolution.conflicts)}"
            )
            proposal, conflict = evolution.descriptor, evolution.kind == "conflict"
        else:
            name = known.free_name(proposal.name, known.families())
            if name != proposal.name:
                proposal = _renamed(proposal, name)
            reason, conflict = "new format", False
        refusal = inference.assessment.draft_refusal(thresholds)
        if refusal is not None:
            _mark(catalog, rid, run_id, state="opaque", reason=f"no draft: {refusal}")
            return Outcome(rid, "opaque", detail=f"no draft: {refusal}")
        version = drafts.push_draft(
            proposal,
            reason=reason,
            source=record.get("original_object_name") or rid,
            confidence=inference.assessment.confidence,
        )
        _mark(catalog, rid, run_id, state="waiting", format=name, version=version)
        if mode == AUTO and not conflict:
            version, released = drafts.approve(name, version, by="policy:auto")
            return Outcome(rid, "activated", name, version, reason, released)
    why = "conflicting types go to review" if conflict else "policy review"
    return Outcome(rid, "review", name, version, f"{reason} ({why})")


def _renamed(descriptor: Descriptor, name: str) -> Descriptor:
    """The proposal under another format name: its PostgreSQL table and InfluxDB measurement follow."""
    old = descriptor.name
    targets = []
    for t in descriptor.targets:
        update: dict[str, Any] = {}
        if getattr(t, "table", None) == old:
            update["table"] = name
        if getattr(t, "measurement", None) == old:
            update["measurement"] = name
        targets.append(t.model_copy(update=update) if update else t)
    data = descriptor.model_copy(update={"name": name, "targets": targets}).model_dump(by_alias=True)
    return Descriptor.model_validate(data)


def _in_schema(descriptor: Descriptor, schema: str) -> Descriptor:
    targets = [
        t.model_copy(update={"schema_": schema}) if t.store == "postgres" else t for t in descriptor.targets
    ]
    return Descriptor.model_validate(
        descriptor.model_copy(update={"targets": targets}).model_dump(by_alias=True)
    )


#: Objects claimed at once; their samples are read and inferred in parallel while the previous ones are
#: decided (grouped with their shape's draft) one at a time.
BATCH = 50
#: Pool workers reading samples and inferring: reads overlap (Swift latency) and the sniffing shares the
#: task's process (the GIL: more threads add no CPU; the executor's parallelism is left as configured).
WORKERS = 4
#: Objects one run takes at most; the rest wait for the next run (bounds a run's duration).
MAX_PER_RUN = 5_000


def infer_unformatted(
    run_id: str,
    *,
    catalog: Catalog,
    swift: SwiftClient,
    stores: Sequence[str] = DEFAULT_STORES,
    schema: str | None = None,
    limit: int = BATCH,
    workers: int = WORKERS,
    thresholds: Thresholds | None = None,
    max_objects: int = MAX_PER_RUN,
    max_bytes: int | None = None,
) -> list[Outcome]:
    """What the unknown-formats DAG's task does: claim a batch, prepare each object in a pool of
    ``workers`` (one sample read per object), decide them in order, and claim again until none is left or
    ``max_objects`` were taken. One failure is that object's: it is marked failed with the reason and stays
    committed."""
    if workers < 1 or limit < 1:
        raise ValueError("workers and limit must be at least 1")
    store = FormatStore(catalog)
    known = KnownFormats(store)
    policies: dict[tuple[str | None, str | None], str] = {}
    local = threading.local()

    def hook() -> SwiftClient:
        # a swiftclient connection is not shared between threads: one client per pool worker
        if workers == 1:
            return swift
        if getattr(local, "hook", None) is None:
            local.hook = swift.clone()
        return local.hook

    def one(record: dict[str, Any], active: list[Descriptor]) -> Prepared:
        return prepare(record, swift=hook(), active=active, stores=stores, max_bytes=max_bytes)

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer") as pool:
        while len(outcomes) < max_objects:
            batch = claim_unformatted(catalog, run_id, limit=min(limit, max_objects - len(outcomes)))
            if not batch:
                break
            active = store.list_active()
            futures = [pool.submit(one, record, active) for record in batch]
            for record, future in zip(batch, futures, strict=True):
                try:
                    outcome = decide(
                        future.result(),
                        run_id,
                        catalog=catalog,
                        schema=schema,
                        thresholds=thresholds,
                        known=known,
                        policies=policies,
                    )
                except Exception as exc:
                    log.exception("inference of object %s failed", record["_id"])
                    reason = f"{type(exc).__name__}: {exc}"
                    _mark(catalog, record["_id"], run_id, state="failed", reason=reason)
                    outcome = Outcome(record["_id"], "failed", detail=reason)
                outcomes.append(outcome)
    return outcomes
