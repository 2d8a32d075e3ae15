"""The CLI's one-line errors for the world failing a command, chosen by the class the hooks raise.

The hooks type what went wrong (`airflow_provider_datalake.hooks.errors`); this module only says it the
CLI's way. Their module is looked up among those already imported, never imported here: an exception
cannot come from a module never loaded, and importing Airflow (seconds) only to learn that would slow
every error.
"""

from __future__ import annotations

import sys

_HOOK_ERRORS = "airflow_provider_datalake.hooks.errors"


def outside_failure(exc: BaseException) -> tuple[str, str] | None:
    """(what, one line) when the exception is the world failing the command: a catalog or Swift that cannot
    be reached or refuses the credentials, a connection not defined. None for anything else: a bug, whose
    traceback must show. The line never holds a password (the hooks' texts name the user, not the key)."""
    errors = sys.modules.get(_HOOK_ERRORS)
    typed = errors.outside_failure(exc) if errors is not None else None
    if errors is None or typed is None:
        return None
    if isinstance(typed, errors.ConnectionNotDefined):
        why = f"the connection '{typed.conn_id}' is not defined"
        return why, f"{why}: source the stack's env file (.stack/env) or define it in Airflow"
    if isinstance(typed, errors.SwiftUnreachable):
        return "Swift unreachable", typed.brief
    if isinstance(typed, errors.SwiftAuthRefused):
        return "Swift refused the credentials", str(typed)
    if isinstance(typed, errors.CatalogAuthRefused):
        return "catalog refused the credentials", str(typed)
    return "catalog unreachable", str(typed)
