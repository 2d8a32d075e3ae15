"""`datalake catalog ...`: the catalog's indexes, and how many raw objects each format has in each state."""

from __future__ import annotations

import json

import click
from rich import box
from rich.markup import escape
from rich.table import Table

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.render import out


@click.group()
def catalog() -> None:
    """The catalog itself: its indexes, and how many objects it holds."""


@catalog.command("init")
@click.pass_context
def catalog_init(ctx: click.Context) -> None:
    """Create the catalog's indexes and its list of containers (idempotent; also done at first use).

    Run it once after restoring or upgrading a catalog: on a large one, building an index takes a while,
    better spent here than in the first insert."""
    # Imported here: keeps `datalake --help` fast.
    from datalake_catalog.catalog import INDEXES, RAW_OBJECTS

    hook = context.catalog(ctx)
    before = set(hook.db[RAW_OBJECTS].index_information())
    hook.ensure_indexes()
    containers = hook.containers()
    table = Table("index", "keys", "", box=box.SIMPLE, title=f"catalog {hook.database}.{RAW_OBJECTS}")
    for model in INDEXES:
        doc = model.document
        keys = ", ".join(f"{k}{'' if d == 1 else ' desc'}" for k, d in doc["key"].items())
        state = "exists" if doc["name"] in before else "created"
        table.add_row(doc["name"], keys + (" (unique)" if doc.get("unique") else ""), state)
    out.print(table)
    out.print(f"{len(containers)} container(s) hold raw objects: {escape(', '.join(containers)) or '-'}")


@catalog.command("stats")
@click.option("--format", "fmt", help="Only this format.")
@click.option("--json", "as_json", is_flag=True, help="The counts as one JSON object.")
@click.pass_context
def catalog_stats(ctx: click.Context, fmt: str | None, as_json: bool) -> None:
    """How many raw objects each format has in each state."""
    from datalake_catalog.catalog import Status  # here: keeps `datalake --help` fast

    hook = context.catalog(ctx)
    counts = hook.status_counts(fmt)
    if as_json:
        click.echo(json.dumps({name if name is not None else "-": c for name, c in counts.items()}))
        return
    states = [s.value for s in Status]
    table = Table("format", *states, "total", box=box.SIMPLE, title="raw objects by state")
    for name in sorted(counts, key=lambda n: (n is None, n or "")):
        row = counts[name]
        table.add_row(name or "-", *(str(row.get(s, 0)) for s in states), str(sum(row.values())))
    out.print(table)
