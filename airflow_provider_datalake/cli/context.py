"""What every command gets from the `datalake` group: its hooks, built from the group's connection ids,
and log records sent to the stderr console while it runs."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from airflow_provider_datalake.cli.render import console

if TYPE_CHECKING:
    from airflow_provider_datalake.hooks.catalog import CatalogHook  # here: keeps `datalake --help` fast
    from airflow_provider_datalake.hooks.swift import SwiftHook


def hooks(ctx: click.Context) -> tuple[SwiftHook, CatalogHook]:
    """The Swift and catalog hooks of the group's ``--swift-conn-id`` / ``--mongo-conn-id``."""
    # Imported here: they pull in Airflow (seconds), which `datalake --help` and usage errors do without.
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook

    if not ctx.meta.get("datalake.logs_to_console"):  # after Airflow's import: it configures logging then
        ctx.meta["datalake.logs_to_console"] = True
        ctx.with_resource(logs_to_console())
    return SwiftHook(ctx.obj["swift_conn_id"]), CatalogHook(ctx.obj["mongo_conn_id"])


def _drop_private_keys(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """Airflow's own filtering wrapper pops its ``__level_override``; without it, it would be printed."""
    return {key: value for key, value in event.items() if not key.startswith("__")}


@contextmanager
def logs_to_console() -> Iterator[None]:
    """Log records go to the stderr console, warnings and up, for as long as the command runs.

    Airflow writes them to stdout (its hooks' structlog loggers directly, the others through its root
    handler), where they would tear the progress bar and land among `--json` lines. Their INFO lines
    ("uploading ... as an SLO") say what the command reports itself, so only warnings are shown, above the
    bar.
    """
    import logging  # with the hooks: only a command that reaches Airflow needs these

    import structlog
    from rich.logging import RichHandler

    root, saved = logging.getLogger(), structlog.get_config()
    handlers = root.handlers[:]
    root.handlers = [RichHandler(logging.WARNING, console=console, show_time=False, show_path=False)]
    structlog.configure(  # to stdlib logging, rendered to one string (no kwargs can clash with LogRecord's)
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            _drop_private_keys,
            structlog.dev.ConsoleRenderer(
                colors=False, pad_event_to=0, exception_formatter=structlog.dev.plain_traceback
            ),  # plain: a rich traceback would show locals, connection passwords among them
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    try:
        yield
    finally:  # in-process callers (tests, embedding) get Airflow's set-up back
        root.handlers = handlers
        structlog.configure(**saved)
