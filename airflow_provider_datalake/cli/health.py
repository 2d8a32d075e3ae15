"""`datalake health`: is the lake moving? The checks of `airflow_provider_datalake.health`, printed."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click
from rich.markup import escape

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.render import json_default, out


@click.command("health")
@click.option(
    "--bound",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Minutes an object may stay committed or processing, and a task queued, before it is reported.",
)
@click.option("--recover", is_flag=True, help="Run the recovery sweep first (what the triggerer does).")
@click.option(
    "--no-airflow", is_flag=True, help="Check the catalog only (no Airflow metadata database here)."
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def health_cmd(ctx: click.Context, bound: float, recover: bool, no_airflow: bool, as_json: bool) -> None:
    """Is the lake moving? Objects stuck past the bound, expired leases, a wedged executor, a dead
    scheduler or triggerer. Exit 0 when healthy, 1 when something needs a look."""
    from airflow_provider_datalake.health import check_health  # here: keeps `datalake --help` fast

    catalog = context.catalog(ctx)
    report = check_health(catalog, bound=dt.timedelta(minutes=bound), recover=recover, airflow=not no_airflow)
    if as_json:
        click.echo(json.dumps(report.as_dict(), default=json_default))
    else:
        if report.recovered:
            out.print(
                f"recovered {len(report.recovered)} object(s): "
                + ", ".join(f"{rid} -> {state}" for rid, state in sorted(report.recovered.items()))
            )
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            line = f"{mark} {check.name}: {escape(check.detail)}"
            if check.examples:
                more = ", ..." if check.count > len(check.examples) else ""
                line += f" [dim]({escape(', '.join(check.examples))}{more})[/dim]"
            out.print(line, soft_wrap=True)
    if not report.ok:
        sys.exit(1)
