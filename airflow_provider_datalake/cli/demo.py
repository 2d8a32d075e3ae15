"""`datalake demo`: the product's main job on the local stack, end to end, printed step by step (the steps
themselves are in `airflow_provider_datalake.demo`)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.dags import dags_folder_of
from airflow_provider_datalake.cli.insert import insert_files
from airflow_provider_datalake.cli.render import console, out, records_table


@click.command()
@click.option("--seed", type=int, help="Seed of the generated files.  [default: a new one each run]")
@click.option(
    "--examples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("examples"),
    show_default=True,
    help="Folder of format descriptors to push first.",
)
@click.option("--wait", default=240.0, show_default=True, help="Seconds to wait for Airflow to process.")
@click.pass_context
def demo(ctx: click.Context, seed: int | None, examples: Path, wait: float) -> None:
    """The product's main job on the local stack, end to end, through the running Airflow.

    Descriptors are pushed and their DAGs installed; campus-shaped files are inserted into the raw zone;
    each committed object then starts its format's DAG by itself; the gold zone's tables are shown.
    """
    # Imported here, as every command's: they pull in Airflow (seconds), which `datalake --help` does without.
    from airflow_provider_datalake.demo import (
        last_run_outcomes,
        postgres_counts,
        sample_format,
        store_summary,
        wait_for_dags,
        wait_for_outcomes,
    )
    from airflow_provider_datalake.descriptors.loader import load_many  # here: keeps `datalake --help` fast
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
    from airflow_provider_datalake.samples import write_sample_set

    seed = seed if seed is not None else int(time.time()) % 100_000
    catalog = context.catalog(ctx)
    descriptors, errors = load_many(sorted(examples.glob("*.yaml")))
    for err in errors:
        console.print(f"[red]invalid descriptor[/red] {escape(str(err))}")
    store = FormatStore(catalog)
    for desc in descriptors:
        store.push(desc, author="demo")
    folder = dags_folder_of(None)
    install_dags_folder(folder, mongo_conn_id=ctx.obj["mongo_conn_id"])
    synced = sync_dags_folder(folder, mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    out.print(
        f"[bold]1. {len(descriptors)} format descriptors pushed[/bold] "
        f"({', '.join(d.name for d in descriptors)}); DAG files in {folder} "
        f"(written: {', '.join(synced.get('written', [])) or 'unchanged'})"
    )
    if pending := wait_for_dags([d.name for d in descriptors], timeout=90):
        console.print(f"[yellow]DAGs not registered yet: {', '.join(sorted(pending))}[/yellow]")

    with tempfile.TemporaryDirectory(prefix="datalake-demo-") as tmp:
        files = write_sample_set(Path(tmp), seed=seed)
        done: list[dict[str, Any]] = []
        failed: list[tuple[Path, str]] = []
        for path in files:
            result = insert_files(
                ctx,
                [path],
                fmt=sample_format(path),
                container=None,
                application="demo",
                meta={"source": "make demo", "seed": str(seed)},
                dedupe=True,
                quiet=True,
            )
            if result.interrupted:
                raise KeyboardInterrupt
            done += result.done
            failed += result.failed
    out.print(f"[bold]2. {len(done)} campus files inserted into Swift + catalog[/bold] (seed {seed})")
    for path, why in failed:
        console.print(f"[red]failed[/red] {escape(path.name)}: {escape(why)}", soft_wrap=True)

    known = {d.name for d in descriptors}
    waiting = [r["_id"] for r in done if r.get("format") in known]
    out.print(
        f"[bold]3. Airflow processes them by itself[/bold] (waiting up to {wait:.0f}s for {len(waiting)})"
    )
    wait_for_outcomes(catalog, waiting, wait)
    records: list[dict[str, Any]] = [catalog.get(r["_id"]) for r in done]  # type: ignore[misc]
    out.print(records_table(records, "the demo's raw objects", width=out.width))
    for rec in records:
        ok, bad = last_run_outcomes(rec)
        for op in ok:
            out.print(
                f"  {rec['format']}: {op['rows_loaded']} rows into {op['target']} ({op['store']}), "
                f"{op['rows_quarantined']} quarantined"
            )
        for op in bad:
            out.print(f"  [red]{rec['format']} -> {op['target']}: {escape(str(op.get('error')))}[/red]")
    out.print("[bold]4. the gold zone (PostgreSQL) now holds[/bold]")
    for schema, table, rows, objects in postgres_counts(descriptors):
        out.print(f"  {schema}.{table}: {rows} rows from {objects} raw objects")
    others = [t for d in descriptors for t in d.targets if t.store != "postgres"]
    if others:
        out.print("[bold]5. ... and the other stores of the gold zone hold[/bold]")
    for t in others:
        try:
            out.print(f"  {t.name} ({t.store}): {store_summary(t)}")
        except Exception as exc:  # a store that cannot be read says why; the others are still shown
            console.print(f"  [red]{t.name} ({t.store}): cannot read it: {escape(str(exc)[:200])}[/red]")
    if base := os.environ.get("AIRFLOW__API__BASE_URL"):
        user = "admin" if os.environ.get("DATALAKE_AIRFLOW_ADMIN_PASSWORD") else None
        out.print(f"[bold]6. the lake in Airflow's UI[/bold]: {base}/plugin/datalake")
        if user:
            out.print(
                f"  log in as {user} (viewer and operator too); the passwords are in .stack/env "
                "(DATALAKE_AIRFLOW_<USER>_PASSWORD)"
            )
    unfinished = [rid for rid in waiting if catalog.get(rid)["status"] not in ("processed",)]  # type: ignore[index]
    if failed or unfinished:
        console.print(f"[red]{len(failed)} insert(s) failed, {len(unfinished)} object(s) not processed[/red]")
        sys.exit(1)
