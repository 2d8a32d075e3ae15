"""`datalake reconcile`: settle what crashed inserts left (expired pending records), report orphans."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from rich.markup import escape

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.render import console, out, utc, visible


@click.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Say what would be done, change nothing.")
@click.option("--remove-orphans", is_flag=True, help="Delete Swift objects that no record names.")
@click.option(
    "--adopt",
    is_flag=True,
    help="Give Swift objects that no record names a committed record (objects written by any client while "
    "the proxy's catalogue middleware was off or failed open); their format's DAG then takes them.",
)
@click.option(
    "--container",
    "containers",
    multiple=True,
    help="Look for orphan and missing objects in this container only; repeatable. Expired pending records "
    "are settled in every container.  [default: datalake-raw and every one the catalog names]",
)
@click.option(
    "--show",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="Record ids and orphan names listed (the counts are always given).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document, every id and name.")
@click.pass_context
def reconcile_cmd(
    ctx: click.Context,
    dry_run: bool,
    remove_orphans: bool,
    adopt: bool,
    containers: tuple[str, ...],
    show: int,
    as_json: bool,
) -> None:
    """Settle what crashed inserts left (expired pending records) and report orphan objects."""
    from airflow_provider_datalake.ingest import reconcile  # here: keeps `datalake --help` fast

    if adopt and remove_orphans:
        raise click.UsageError("--adopt and --remove-orphans exclude each other")
    swift, catalog = context.hooks(ctx)
    if containers:
        existing = {c["name"] for name in set(containers) for c in swift.list_containers(prefix=name)}
        for name in sorted(set(containers) - existing):  # else its zero counts read as "all is well"
            console.print(f"[yellow]warning[/yellow]: container {escape(visible(name))} does not exist")
    report = reconcile(
        dry_run=dry_run,
        remove_orphans=remove_orphans,
        adopt_orphans=adopt,
        containers=list(containers) or None,
        swift=swift,
        catalog=catalog,
    )
    # Pending records inside their lease are an insert still running or one that stopped less than a lease
    # ago: reconcile leaves them alone, but saying nothing would read as "nothing was left".
    now = dt.datetime.now(dt.UTC)
    waiting = []
    for rec in catalog.find(status="pending"):
        until = utc(rec.get("lease_until"))
        if until is not None and until > now and (not containers or rec.get("swift_container") in containers):
            waiting.append((until, str(rec["_id"])))
    waiting.sort()
    if as_json:
        out.print_json(json.dumps({**report.as_dict(), "pending_in_lease": [rid for _, rid in waiting]}))
    else:
        verb = "would roll" if dry_run else "rolled"
        out.print(f"{verb} forward: {len(report.rolled_forward)}  {verb} back: {len(report.rolled_back)}")
        for word, ids in (("forward", report.rolled_forward), ("back", report.rolled_back)):
            for rid in ids[:show]:  # which records: the counts alone cannot be checked
                out.print(f"  {verb} {word} {rid}")
        if dry_run:  # nothing is removed by a dry run: say what --remove-orphans would do instead
            removal = f"  would remove: {len(report.orphans)}" if remove_orphans else ""
        else:
            removal = f"  removed: {len(report.orphans_removed)}"
        if adopt:
            out.print(f"{'would adopt' if dry_run else 'adopted'}: {len(report.adopted)}")
            for container, name, rid in report.adopted[:show]:
                out.print(f"  {escape(visible(container))}/{escape(visible(name))} -> {rid}")
        out.print(f"orphan objects: {len(report.orphans)}{removal}")
        for container, name in report.orphans[:show]:
            out.print(f"  orphan {escape(visible(f'{container}/{name}'))}", soft_wrap=True)
        if len(report.orphans) > show:
            out.print(
                f"  ... and {len(report.orphans) - show} more (--show N, or --json for all; "
                "--container C checks one container)"
            )
        for rid in report.missing_objects:
            out.print(f"  [red]record {rid} is committed but its object is missing from Swift[/red]")
        for rid, why in report.unreadable:
            out.print(
                f"  [red]record {rid} is stored but its content cannot be read back to commit it: "
                f"{escape(why)}[/red] (a reconcile after its 5-minute claim tries again)",
                soft_wrap=True,
            )
        for container, name, why in report.not_adopted:
            out.print(
                f"  [red]orphan {escape(visible(f'{container}/{name}'))} not adopted, its content cannot be "
                f"read back whole: {escape(why)}[/red]",
                soft_wrap=True,
            )
        if report.other_accounts:  # else they would read as checked
            out.print(
                f"records of other Swift accounts, not checked through {swift.swift_conn_id} "
                f"(account {swift.account}): {len(report.other_accounts)}; reconcile with their "
                "connection (--swift-conn-id) checks them",
                soft_wrap=True,
            )
        if waiting:
            out.print(
                f"pending within their lease (an insert running, or stopped less than a lease ago), "
                f"left alone: {len(waiting)}; the first lease ends {waiting[0][0]:%Y-%m-%d %H:%M:%S} UTC, "
                "reconcile after it",
                soft_wrap=True,
            )
            for _, rid in waiting[:show]:
                out.print(f"  pending {rid}")
    if report.missing_objects or report.unreadable or report.not_adopted:
        sys.exit(1)
