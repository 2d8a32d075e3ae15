"""`datalake samples generate`: the project's seeded campus-shaped files, written to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from airflow_provider_datalake.cli.render import out


@click.group()
def samples() -> None:
    """The project's seeded generator of campus-shaped data."""


@samples.command("generate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True)
@click.option("--scale", default=1, show_default=True, help="Multiplies the number of messages and rows.")
def samples_generate(directory: Path, seed: int, scale: int) -> None:
    """Write a mixed set of campus-shaped files (MQTT dumps, sensor exports, lab CSVs, an image)."""
    from airflow_provider_datalake.samples import write_sample_set  # here: keeps `datalake --help` fast

    for path in write_sample_set(directory, seed=seed, scale=scale):
        out.print(f"{path}  {path.stat().st_size} bytes")
