"""What every command gets from the `datalake` group: its Swift client and catalog, built from the group's
connection ids, ``-v`` to say where each connection was read from, and log records sent to the stderr
console while it runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from airflow_provider_datalake.cli.render import console

if TYPE_CHECKING:  # here: keeps `datalake --help` fast
    from airflow_provider_datalake.hooks.connect import ConnectionSource
    from airflow_provider_datalake.hooks.swift_client import SwiftClient
    from datalake_catalog.catalog import Catalog

_VERBOSE = "datalake.verbose"


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_VERBOSE] = True  # meta is shared by the group's context and its commands'


#: ``-v``: say on stderr where each connection the command uses is read from (never a secret).
verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    callback=_set_verbose,
    help="Say where each connection is read from: the environment (AIRFLOW_CONN_<ID>) or Airflow.",
)


def verbose(ctx: click.Context) -> bool:
    return bool(ctx.meta.get(_VERBOSE))


def say_source(source: ConnectionSource) -> None:
    """The ``-v`` line for one connection."""
    console.print(f"connection {escape(source.conn_id)}: {escape(source.describe())}", soft_wrap=True)


def _made(
    ctx: click.Context,
    key: str,
    locate: Callable[[], ConnectionSource],
    make: Callable[[ConnectionSource], Any],
) -> Any:
    """One client per command and connection; ``-v`` says where its connection is read from first (so it
    is said even when reading it fails)."""
    made: dict[str, Any] = ctx.meta.setdefault("datalake.clients", {})
    if key not in made:
        source = locate()
        if verbose(ctx):
            say_source(source)
        made[key] = make(source)
        _logs_to_console(ctx)
    return made[key]


def swift(ctx: click.Context) -> SwiftClient:
    """The Swift client of the group's ``--swift-conn-id``: from the environment's connection without
    Airflow, else through Airflow (`hooks.connect`)."""
    from airflow_provider_datalake.hooks.connect import locate_swift, open_swift

    client: SwiftClient = _made(ctx, "swift", lambda: locate_swift(ctx.obj["swift_conn_id"]), open_swift)
    return client


def catalog(ctx: click.Context) -> Catalog:
    """The catalog of the group's ``--mongo-conn-id``, made as `swift` makes its client."""
    from airflow_provider_datalake.hooks.connect import locate_catalog, open_catalog

    made: Catalog = _made(ctx, "catalog", lambda: locate_catalog(ctx.obj["mongo_conn_id"]), open_catalog)
    return made


def hooks(ctx: click.Context) -> tuple[SwiftClient, Catalog]:
    """The Swift client and the catalog of the group's ``--swift-conn-id`` / ``--mongo-conn-id``."""
    return swift(ctx), catalog(ctx)


def _logs_to_console(ctx: click.Context) -> None:
    """After a client is made, log records go to the stderr console for the rest of the command; again
    after a later client loaded Airflow, whose import configures logging its own way."""
    airflow = "airflow" in sys.modules
    done = ctx.meta.get("datalake.logs_to_console")  # None: not yet; else whether Airflow was loaded
    if done is None or (airflow and not done):
        ctx.meta["datalake.logs_to_console"] = airflow
        ctx.with_resource(logs_to_console())


def _drop_private_keys(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
    """Airflow's own filtering wrapper pops its ``__level_override``; without it, it would be printed."""
    return {key: value for key, value in event.items() if not key.startswith("__")}


@contextmanager
def logs_to_console() -> Iterator[None]:
    """Log records go to the stderr console, warnings and up, for as long as the command runs.

    Airflow writes them to stdout (its hooks' structlog loggers directly, the others through its root
    handler), where they would tear the progress bar and land among `--json` lines. Their INFO lines
    ("uploading ... as an SLO") say what the command reports itself, so only warnings are shown, above the
    bar. structlog is set up only when something loaded it (Airflow does): nothing logs through it before.
    """
    import logging  # with the clients: only a command that reaches a store needs these

    from rich.logging import RichHandler

    root = logging.getLogger()
    handlers = root.handlers[:]
    root.handlers = [RichHandler(logging.WARNING, console=console, show_time=False, show_path=False)]
    structlog = sys.modules.get("structlog")
    saved = structlog.get_config() if structlog is not None else {}
    if structlog is not None:
        structlog.configure(  # to stdlib logging, rendered to one string (no kwargs clash with LogRecord's)
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
    finally:  # in-process callers (tests, embedding) get their set-up back
        root.handlers = handlers
        if structlog is not None:
            structlog.configure(**saved)
