"""The `datalake` group and the console script: global options, and how every command ends when the world
fails it or the user interrupts it.

SIGTERM takes Ctrl-C's path (the insert in flight rolls back, the summary is printed), and the exit code
says which it was: 130 for Ctrl-C, 143 for SIGTERM.
"""

from __future__ import annotations

import gc
import os
import signal
from importlib import import_module
from typing import Any

import click
from rich.markup import escape

from airflow_provider_datalake import __version__
from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.errors import outside_failure
from airflow_provider_datalake.cli.render import console, visible

_as_script = False  # True under main(): only the console script may hold Ctrl-C back (not CliRunner's caller)
_terminated = False  # a SIGTERM (under main()) raised the KeyboardInterrupt: exit 143, not 130
_held_ctrl_c: list[int] = []
_VERSION = "datalake.version"

#: Each command's module and object, imported only when the command runs (or help lists them): a command's
#: start pays for its own imports, not every other command's.
COMMANDS = {
    "catalog": "catalog:catalog",
    "dags": "dags:dags",
    "demo": "demo:demo",
    "formats": "formats:formats",
    "health": "health:health_cmd",
    "insert": "insert:insert",
    "objects": "objects:objects",
    "reconcile": "reconcile:reconcile_cmd",
    "reprocess": "reprocess:reprocess_cmd",
    "samples": "samples:samples",
}


def interrupt_code() -> int:
    return 128 + (signal.SIGTERM if _terminated else signal.SIGINT)


def interrupt_name() -> str:
    return "SIGTERM" if _terminated else "Ctrl-C"


def outcome_follows() -> None:
    """The work is done and its outcome is about to be printed: a Ctrl-C (or SIGTERM) from here on is held
    until main() ends the process by the signal, so it can neither cut the summary nor raise into the
    teardown."""
    if _as_script:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda signum, _frame: _held_ctrl_c.append(signum))


class _Cli(click.Group):
    """Every command ends the same way when the world fails it: one line on stderr and exit code 1 for a
    server down, credentials refused or a connection not defined; "interrupted" and 130 for a Ctrl-C that
    no command caught (143 for SIGTERM). Any other exception is a bug: its traceback shows."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, _, attr = COMMANDS[cmd_name].partition(":")
            command = getattr(import_module(f"airflow_provider_datalake.cli.{module}"), attr)
            if command.name != cmd_name:
                raise RuntimeError(f"cli.{module}.{attr} is named {command.name!r}, not {cmd_name!r}")
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``--version`` is answered once every option of the group is read, so that ``-v`` says where the
        connections would be read from whichever comes first (nothing is read or imported for it)."""
        rest = super().parse_args(ctx, args)
        if ctx.meta.get(_VERSION):
            click.echo(f"datalake, version {__version__}")
            if context.verbose(ctx):
                from airflow_provider_datalake.hooks.connect import locate_catalog, locate_swift

                context.say_source(locate_swift(ctx.params["swift_conn_id"]))
                context.say_source(locate_catalog(ctx.params["mongo_conn_id"]))
            ctx.exit()
        return rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # else click prints "Aborted!" and exits 1
            stored_nothing = ctx.invoked_subcommand == "insert" and not ctx.meta.get("datalake.tried")
            what = f"interrupted ({interrupt_name()})" if _terminated else "interrupted"
            console.print(f"[yellow]{what}[/yellow]" + (": nothing was stored" if stored_nothing else ""))
            ctx.exit(interrupt_code())
        except Exception as exc:
            failure = outside_failure(exc)
            if failure is None:
                raise
            console.print(f"[red]error[/red]: {escape(visible(failure[1]))}", soft_wrap=True)
            ctx.exit(1)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_VERSION] = True  # answered by _Cli.parse_args, once -v is known too


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_version,
    help="Show the version and exit (with -v: where each connection would be read from).",
)
@context.verbose_option
@click.option(
    "--swift-conn-id", default="swift_default", show_default=True, help="Airflow connection of Swift."
)
@click.option(
    "--mongo-conn-id", default="mongo_default", show_default=True, help="Airflow connection of the catalog."
)
@click.pass_context
def cli(ctx: click.Context, swift_conn_id: str, mongo_conn_id: str) -> None:
    """neOCampus data lake: raw zone in Swift, catalog in MongoDB, gold zone loaded by Airflow."""
    ctx.obj = {"swift_conn_id": swift_conn_id, "mongo_conn_id": mongo_conn_id}


def _sigterm(_signum: int, _frame: Any) -> None:
    """`kill PID` takes Ctrl-C's path: the insert in flight rolls back (no pending record waits for its
    lease) and the summary is printed; the exit code then says SIGTERM (143)."""
    global _terminated
    _terminated = True
    raise KeyboardInterrupt


def main() -> None:
    """The console script. SIGTERM is handled as Ctrl-C (see `_sigterm`). After the command, a Ctrl-C during
    the interpreter's teardown (freeing Airflow's modules) ends the process by the signal, as any
    program's, without a traceback."""
    global _as_script
    _as_script = True
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        cli()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.freeze()  # the teardown's collections then skip Airflow's heap, which shortens it
        if _held_ctrl_c:
            os.kill(os.getpid(), _held_ctrl_c[0])
