"""The `datalake` command line: insert files, look at the catalog, settle crashes, run the demo."""

from __future__ import annotations

import click

from airflow_provider_datalake import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datalake")
def cli() -> None:
    """neOCampus data lake: raw zone in Swift, catalog in MongoDB, gold zone in Airflow-loaded stores."""


def main() -> None:
    cli()
