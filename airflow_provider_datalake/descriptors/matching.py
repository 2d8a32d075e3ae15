"""Recognise the format of a raw object inserted without one, from the descriptors' `match` rules.

A descriptor whose `match` names no criterion never claims objects implicitly (it would take everything).
All criteria it names must hold; when several descriptors match, none is chosen (ambiguity is reported,
never settled by order), and the object stays unformatted for a human or a later rule to decide.

The rules are applied to plain mappings (`holds`), so a stored format's rules can be read from its YAML
(`rules_of`) and tried before the descriptor model is even imported; the model only decides between the
formats whose rules hold (`match_format`). This module imports neither pydantic nor pymongo.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.model import Descriptor

log = logging.getLogger(__name__)

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def rules_of(text: str) -> Mapping[str, Any]:
    """The `match` rules of a descriptor's YAML text, unvalidated; empty when it has none (or no mapping).

    Only a hint: a format whose rules hold here is then validated before it is chosen."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader: CSafeLoader or SafeLoader)
    except yaml.YAMLError:
        return {}
    match = data.get("match") if isinstance(data, dict) else None
    return match if isinstance(match, dict) else {}


def _listed(rules: Mapping[str, Any], key: str) -> list[str]:
    value = rules.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def holds(
    rules: Mapping[str, Any], container: str, content_type: str, filename: str | None, application: str | None
) -> bool:
    """Whether an object meets a format's `match` rules (a mapping with the fields of `Match`)."""
    containers = _listed(rules, "containers")
    content_types = _listed(rules, "content_types")
    filenames = _listed(rules, "filenames")
    wanted_app = rules.get("application")
    if not (containers or content_types or filenames or wanted_app):
        return False
    if containers and container not in containers:
        return False
    if content_types and not any(fnmatch.fnmatchcase(content_type, p) for p in content_types):
        return False
    if filenames and not (filename and any(fnmatch.fnmatch(filename, p) for p in filenames)):
        return False
    return not (wanted_app and wanted_app != application)


def match_format(
    descriptors: Iterable[Descriptor],
    *,
    container: str,
    content_type: str,
    filename: str | None,
    application: str | None,
) -> str | None:
    """The one format whose rules this object meets, else None."""
    found = sorted(
        d.name
        for d in descriptors
        if holds(d.match.model_dump(), container, content_type, filename, application)
    )
    if len(found) > 1:
        log.warning("%s matches several formats (%s): left unformatted", filename, ", ".join(found))
        return None
    return found[0] if found else None
