"""Recognise the format of a raw object inserted without one, from the descriptors' `match` rules.

A descriptor whose `match` names no criterion never claims objects implicitly (it would take everything).
All criteria it names must hold; when several descriptors match, none is chosen (ambiguity is reported,
never settled by order), and the object stays unformatted for a human or a later rule to decide.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable

from airflow_provider_datalake.descriptors.model import Descriptor, Match

log = logging.getLogger(__name__)


def _holds(
    match: Match, container: str, content_type: str, filename: str | None, application: str | None
) -> bool:
    if not (match.containers or match.content_types or match.filenames or match.application):
        return False
    if match.containers and container not in match.containers:
        return False
    if match.content_types and not any(fnmatch.fnmatchcase(content_type, p) for p in match.content_types):
        return False
    if match.filenames and not (filename and any(fnmatch.fnmatch(filename, p) for p in match.filenames)):
        return False
    return not (match.application and match.application != application)


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
        d.name for d in descriptors if _holds(d.match, container, content_type, filename, application)
    )
    if len(found) > 1:
        log.warning("%s matches several formats (%s): left unformatted", filename, ", ".join(found))
        return None
    return found[0] if found else None
