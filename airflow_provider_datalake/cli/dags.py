"""`datalake dags ...`: put the factory's entry file in Airflow's dags folder, and sync the format files."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from airflow_provider_datalake.cli.render import console, out


def dags_folder_of(value: Path | None) -> Path:
    if value is not None:
        return value
    from airflow.configuration import conf  # here: keeps `datalake --help` fast

    return Path(conf.get("core", "dags_folder"))


@click.group()
def dags() -> None:
    """The generated DAGs: one `datalake__<format>` DAG per active format descriptor."""


@dags.command("install")
@click.option("--dags-folder", type=click.Path(file_okay=False, path_type=Path), help="[default: Airflow's]")
@click.option("--ttl", default=60.0, show_default=True, help="Seconds between catalog reads at parse time.")
@click.option(
    "--layout",
    type=click.Choice(["per-format", "single"]),
    help="per-format: a file per format; single: one file for every valid format (cheaper to parse "
    "for hundreds of formats). [default: the folder's current one, else per-format]",
)
@click.pass_context
def dags_install(ctx: click.Context, dags_folder: Path | None, ttl: float, layout: str | None) -> None:
    """Put the factory's entry file in the dags folder, then sync the format files once."""
    # Imported here: keeps `datalake --help` fast.
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder

    folder = dags_folder_of(dags_folder)
    path = install_dags_folder(folder, ttl=ttl, mongo_conn_id=ctx.obj["mongo_conn_id"], layout=layout)
    result = sync_dags_folder(folder, ttl=ttl, mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    out.print(f"installed {path}; formats written: {', '.join(result.get('written', [])) or 'none'}")


@dags.command("sync")
@click.option("--dags-folder", type=click.Path(file_okay=False, path_type=Path), help="[default: Airflow's]")
@click.pass_context
def dags_sync(ctx: click.Context, dags_folder: Path | None) -> None:
    """Refresh the descriptor cache from the catalog now and rewrite the per-format DAG files."""
    from airflow_provider_datalake.factory import sync_dags_folder  # here: keeps `datalake --help` fast

    result = sync_dags_folder(dags_folder_of(dags_folder), mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    state = result["cache"]
    out.print(f"cache: {state.status} ({state.count} formats)")
    written, removed = result.get("written", []), result.get("removed", [])
    out.print(f"written: {', '.join(written) or '-'}  removed: {', '.join(removed) or '-'}")
    if not state.ok:
        console.print(f"[red]catalog unreachable[/red]: {escape(str(state.error))}; the previous files stay")
        sys.exit(1)
