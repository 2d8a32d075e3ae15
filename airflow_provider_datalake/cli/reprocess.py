"""`datalake reprocess`: run objects through their format's DAG again, all targets or some."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.markup import escape

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.render import console, out


@click.command("reprocess")
@click.argument("record_ids", nargs=-1)
@click.option("--format", "fmt", help="Every processed or failed object of this format.")
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(["processed", "failed", "processing"]),
    help="Which states to take back (default: processed and failed).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Load only this target (e.g. influxdb_kind, the store that was down); repeatable. Default: all.",
)
@click.pass_context
def reprocess_cmd(
    ctx: click.Context,
    record_ids: tuple[str, ...],
    fmt: str | None,
    status: tuple[str, ...],
    targets: tuple[str, ...],
) -> None:
    """Run objects through their format's DAG again (loads are idempotent: no row is duplicated)."""
    from airflow_provider_datalake.processing import reprocess  # here: keeps `datalake --help` fast

    if not record_ids and not fmt:
        raise click.UsageError("give record ids or --format")
    catalog = context.catalog(ctx)
    if targets:
        _check_targets(catalog, record_ids, fmt, targets)
    done = reprocess(catalog, ids=record_ids, fmt=fmt, status=status, targets=targets)
    out.print(f"{len(done)} object(s) back to committed; their format DAGs will take them")
    if record_ids and len(done) < len(record_ids):
        missing = sorted(set(record_ids) - set(done))
        console.print(
            f"[red]not reprocessed[/red] (unknown or not processed/failed): {escape(', '.join(missing))}"
        )
        sys.exit(1)


def _check_targets(
    catalog: Any, record_ids: tuple[str, ...], fmt: str | None, targets: tuple[str, ...]
) -> None:
    """Every --target must be a target of the objects' format (its active descriptor)."""
    from airflow_provider_datalake.descriptors.store import FormatStore  # here: keeps `datalake --help` fast

    formats = {fmt} if fmt else set()
    for rid in record_ids:
        rec = catalog.get(rid)
        if rec is not None and rec.get("format"):
            formats.add(rec["format"])
    store = FormatStore(catalog)
    for name in sorted(formats):
        desc = store.get(name)
        known = [t.name for t in desc.targets] if desc is not None else []
        unknown = [t for t in targets if t not in known]
        if desc is not None and unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} not a target of format {name} (its targets: {', '.join(known)})",
                param_hint="--target",
            )
