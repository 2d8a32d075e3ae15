"""Does a known format take a new object? Its family's descriptor against the one inferred from the object.

Same: the known version reads the sample (but for the outliers inference tolerates) and the sample brings no
field. Additive: new fields or null markers, added to a copy of the known version. Conflict: a known field
cannot read the new values, or the dialect changed; the proposal then goes to a human whatever the policy.
Fields are matched by what they read (`_identity`), not by name, and the verdict comes from the project's
own parser run over the sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_datalake.descriptors.model import Descriptor, FieldSpec
from airflow_provider_datalake.inference.sniff import Sample
from airflow_provider_datalake.parsing import ParseError, parse


@dataclass
class Evolution:
    """How an object's inferred descriptor relates to its family's known version."""

    kind: str  # same | additive | conflict
    descriptor: Descriptor  # what the object needs: the known version, or a new one
    added: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)  # null markers added to the parser


def _identity(spec: FieldSpec) -> tuple[str, tuple[str, ...]]:
    """Two fields are the same when they read the same source the same way (MQTT topic parts share one)."""
    return spec.source_key, tuple(repr(c) for c in spec.converters if c.kind == "split")


def _bad_fields(descriptor: Descriptor, sample: Sample) -> dict[str, str]:
    """Fields of ``descriptor`` that cannot read the sample (field -> first reason)."""
    data = sample.data
    lines = descriptor.parser.kind in ("csv", "jsonl") or getattr(descriptor.parser, "lines", False)
    if not sample.complete and lines:
        cut = max(data.rfind(b"\n"), data.rfind(b"\r"))
        data = data[: cut + 1] if cut >= 0 else data
    bad: dict[str, str] = {}
    try:
        for batch in parse(descriptor, [data]):
            for row in batch.bad:
                if row.field is not None:
                    bad.setdefault(row.field, row.error)
                elif sample.complete:
                    bad.setdefault("(record)", row.error)
    except (ParseError, ValueError) as exc:
        bad["(file)"] = str(exc)
    return bad


def _with_markers(known: Descriptor, inferred: Descriptor) -> tuple[Descriptor, list[str]]:
    """``known`` also reading the null markers ('n/a') inference found in the new sample, and those."""
    have = getattr(known.parser, "null_values", None)
    new = [m for m in getattr(inferred.parser, "null_values", []) if have is not None and m not in have]
    if have is None or not new:
        return known, []
    parser = known.parser.model_copy(update={"null_values": [*have, *new]})
    return known.model_copy(update={"parser": parser}), new


def _outliers_only(bad: dict[str, str], known: Descriptor, inferred: Descriptor, sample: Sample) -> set[str]:
    """Known fields whose unreadable values inference itself took for outliers (same reading, and the
    inferred descriptor leaves bad rows in that field too): quarantined rows, as in the first file."""
    by_id = {_identity(f): f for f in inferred.fields}
    alike = {
        name: other.name
        for name in bad
        if (other := by_id.get(_identity(known.field(name)))) is not None
        and (other.type, other.converters) == (known.field(name).type, known.field(name).converters)
    }
    if not alike:
        return set()
    also_bad = _bad_fields(inferred, sample)
    return {name for name, other in alike.items() if other in also_bad}


def evolve(known: Descriptor, inferred: Descriptor, sample: Sample) -> Evolution:
    """Can ``known`` take this object? Same (it reads the sample, but for outliers inference tolerates, and
    no field is new), additive (new fields or null markers: added to a copy of ``known``), or conflict (a
    known field cannot read the new values: the inferred type replaces it in the proposal, for a human)."""
    if known.parser.kind != inferred.parser.kind or _parser_differs(known, inferred):
        return Evolution("conflict", inferred, conflicts=["(parser)"])
    known, markers = _with_markers(known, inferred)
    bad = _bad_fields(known, sample)
    if "(file)" in bad or "(record)" in bad:
        return Evolution("conflict", inferred, conflicts=sorted(bad))
    for name in _outliers_only(bad, known, inferred, sample) if bad else ():
        del bad[name]
    known_ids = {_identity(f): f for f in known.fields}
    taken = {f.name for f in known.fields}
    added: list[FieldSpec] = []
    for spec in inferred.fields:
        if _identity(spec) in known_ids:
            continue
        name, n = spec.name, 1
        while name in taken:
            n += 1
            name = f"{spec.name[:58]}_{n}"
        taken.add(name)
        added.append(spec.model_copy(update={"name": name}))
    if not bad and not added and not markers:
        return Evolution("same", known)
    fields = list(known.fields)
    if bad:  # retype the fields that fail, to the inferred reading: for review only
        by_id = {_identity(f): f for f in inferred.fields}
        fields = [
            by_id.get(_identity(f), f).model_copy(update={"name": f.name}) if f.name in bad else f
            for f in fields
        ]
    evidence = inferred.evidence
    if evidence is not None:
        notes = list(evidence.notes)
        if added:
            notes.append(f"adds {', '.join(f.name for f in added)} to version {known.version}")
        if markers:
            notes.append(f"adds null markers {', '.join(map(repr, markers))} to version {known.version}")
        if bad:
            notes.append(
                f"conflicts with version {known.version}: " + "; ".join(f"{k}: {v}" for k, v in bad.items())
            )
        evidence = evidence.model_copy(update={"notes": notes})
    proposal = known.model_copy(update={"fields": fields + added, "evidence": evidence})
    proposal = Descriptor.model_validate(proposal.model_dump(by_alias=True))
    kind = "conflict" if bad else "additive"
    return Evolution(kind, proposal, [f.name for f in added], sorted(bad), markers)


def _parser_differs(known: Descriptor, inferred: Descriptor) -> bool:
    """Dialect changes (delimiter, decimal, preamble...) are not additive: they go to review."""
    a = known.parser.model_dump(exclude={"encoding", "null_values"})
    b = inferred.parser.model_dump(exclude={"encoding", "null_values"})
    return a != b
