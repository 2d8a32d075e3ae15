"""The demo's small mixed set: one file per known format plus an image."""

from __future__ import annotations

import os
from pathlib import Path

from airflow_provider_datalake.samples.binaries import png_bytes
from airflow_provider_datalake.samples.lab_csv import write_lab_csv
from airflow_provider_datalake.samples.mqtt import write_mqtt_dump, write_mqtt_jsonl
from airflow_provider_datalake.samples.readings import write_sensor_readings_json


def write_sample_set(directory: str | os.PathLike[str], seed: int = 0, scale: int = 1) -> list[Path]:
    """Write the demo's small mixed set (one file per known format plus an image); return the paths.

    Each file gets its own derived seed, so the set holds different data in each format; ``scale``
    multiplies the record counts (the image stays tiny).
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    base = seed * 16
    paths = [
        folder / "mqtt_dump_0001.json",
        folder / "mqtt_stream_0001.jsonl",
        folder / "sensor_readings_0001.json",
        folder / "lab_export_fr_0001.csv",
        folder / "lab_export_en_0001.csv",
        folder / "campus_photo_0001.png",
    ]
    write_mqtt_dump(paths[0], 500 * scale, base + 1)
    write_mqtt_jsonl(paths[1], 500 * scale, base + 2)
    write_sensor_readings_json(paths[2], 200 * scale, base + 3)
    write_lab_csv(paths[3], 100 * scale, base + 4, locale="fr")
    write_lab_csv(paths[4], 100 * scale, base + 5, locale="en")
    paths[5].write_bytes(png_bytes(32, 24, base + 6))
    return paths
