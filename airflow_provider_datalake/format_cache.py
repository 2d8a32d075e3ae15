"""The local format cache: the file a dags folder's DAGs are built from, and the DAG spec stored in it.

`datalake formats sync` (`descriptors.store.sync_cache`) copies the active descriptors from the catalog into
``datalake_formats.json`` beside the DAG files, so that parsing a DAG file needs no database. The
dag-processor parses each DAG file in a fresh process, where importing the pydantic descriptor model and
validating a descriptor would dominate the cost of the file; so each valid descriptor is validated once, at
sync, and stored with this small spec, which a DAG file reads with the standard library only. The spec is
tied to its YAML text (sha256) and to the code that derived it (package version and `SPEC_VERSION`): when
either differs, or the descriptor is invalid, there is no spec and the DAG file validates the descriptor
itself, so an invalid descriptor still gives its own import error, with its file, line and field.

Standard library only, and below `descriptors` in the layers: the store writes this format, the factory and
the load tasks read it. The descriptor model appears only as a type (`DagSpec.from_descriptor`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.asset_uris import GoldAsset
from airflow_provider_datalake.version import __version__

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.model import Descriptor

#: The cache file's name in a dags folder.
CACHE_NAME = "datalake_formats.json"

# Bump when the fields below change: older specs are then ignored, and the descriptor validated instead.
SPEC_VERSION = 4


@dataclass(frozen=True, slots=True)
class DagSpec:
    """The parse-time view of a valid descriptor: ids, tags, docs and the gold assets of each load task. The
    load tasks get the full descriptor at run time."""

    name: str
    version: int
    description: str
    owner: str | None
    targets: tuple[str, ...]  # target names, in the descriptor's order: one load task each
    stores: tuple[str, ...]  # sorted, distinct: tags
    doc_md: str
    max_attempts: int  # the descriptor's processing settings: the claim records them on each object
    lease_seconds: float
    batch: int  # objects one run claims at most
    outlets: tuple[
        GoldAsset, ...
    ] = ()  # what the targets write, each naming its target: the load tasks' outlets

    @classmethod
    def from_descriptor(cls, desc: Descriptor) -> DagSpec:
        return cls(
            name=desc.name,
            version=desc.version,
            description=desc.description,
            owner=desc.owner,
            targets=tuple(t.name for t in desc.targets),
            stores=tuple(sorted({t.store for t in desc.targets})),
            doc_md=_doc(desc),
            max_attempts=desc.processing.max_attempts,
            lease_seconds=desc.processing.lease_seconds,
            batch=desc.processing.batch,
            outlets=tuple(asset for t in desc.targets for asset in t.assets()),
        )

    def to_cache(self, yaml_text: str) -> dict[str, Any]:
        """The spec as stored in a cache entry, tied to the YAML it came from and to this code."""
        return {
            "spec": SPEC_VERSION,
            "package": __version__,
            "sha256": text_sha256(yaml_text),
            **asdict(self),
        }

    @classmethod
    def from_cache(cls, entry: Any, name: str) -> DagSpec | None:
        """The spec of format ``name``'s cache entry, or None when it has none we can trust (then validate
        the descriptor)."""
        if not isinstance(entry, dict) or not isinstance(entry.get("yaml"), str):
            return None
        stored = entry.get("dag")
        if not (
            isinstance(stored, dict)
            and stored.get("spec") == SPEC_VERSION
            and stored.get("package") == __version__
            and stored.get("sha256") == text_sha256(entry["yaml"])
            and stored.get("version") == entry.get("version")
        ):
            return None
        try:
            spec = cls(
                name=str(stored["name"]),
                version=int(stored["version"]),
                description=str(stored["description"]),
                owner=None if stored["owner"] is None else str(stored["owner"]),
                targets=tuple(str(t) for t in stored["targets"]),
                stores=tuple(str(s) for s in stored["stores"]),
                doc_md=str(stored["doc_md"]),
                max_attempts=int(stored["max_attempts"]),
                lease_seconds=float(stored["lease_seconds"]),
                batch=int(stored["batch"]),
                outlets=tuple(
                    GoldAsset(**{k: str(a[k]) for k in ("target", "uri", "name", "store", "kind")})
                    for a in stored["outlets"]
                ),
            )
        except (KeyError, TypeError, ValueError):
            return None
        return spec if spec.targets and spec.name == name else None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _doc(desc: Descriptor) -> str:
    targets = "\n".join(f"- `{t.name}` ({t.store}, mode `{getattr(t, 'mode', '-')}`)" for t in desc.targets)
    fields = "\n".join(
        f"| `{f.name}` | {f.type.value} | {f.source_key} | {f.required} |" for f in desc.fields
    )
    return (
        f"# Format `{desc.name}` (descriptor v{desc.version})\n\n{desc.description}\n\n"
        f"Owner: {desc.owner or '-'}. Parser: `{desc.parser.kind}`. Quarantine ratio: "
        f"{desc.quarantine.max_ratio:.0%}.\n\n## Targets\n{targets}\n\n## Fields\n"
        f"| field | type | source | required |\n|---|---|---|---|\n{fields}\n\n"
        "Generated by airflow-provider-datalake; edit the descriptor, not this DAG."
    )


# The cache's JSON by path, reused while the file is unchanged (stat identity): one read per process and
# cache version, however many DAG files the process parses.
_entries: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
_entries_lock = threading.Lock()


class FormatNotFound(LookupError):
    """The format is not in the cache (never synced, or deactivated since)."""


class CacheError(ValueError):
    """The cache file exists but is not one we wrote (corrupt or foreign): say so rather than guess."""


def cache_entries(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The cache's raw entries by format name. FileNotFoundError when there is no cache."""
    key = os.path.abspath(path)
    st = os.stat(key)
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _entries_lock:
        hit = _entries.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    with open(key, "rb") as fh:
        raw = fh.read()
    try:
        payload = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CacheError(f"{path} is not a format cache (invalid JSON: {exc})") from None
    entries = payload.get("descriptors") if isinstance(payload, dict) else None
    if not isinstance(entries, dict):
        raise CacheError(f"{path} is not a format cache (no `descriptors` mapping)")
    with _entries_lock:
        _entries[key] = (stamp, entries)
    return entries
