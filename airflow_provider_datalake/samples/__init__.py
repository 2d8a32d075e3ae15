"""Seeded, streaming generator of neOCampus-shaped raw data.

A user's clone has no copy of the campus samples, so the demo, the tests and the benchmarks build their
input here instead: MQTT broker dumps and their JSON-lines form (`mqtt`), exports from the older sensor
database (`readings`), lab CSV exports in French and English locales (`lab_csv`), opaque binary blobs and a
tiny PNG "image" (`binaries`), and the demo's mixed set of them all (`demo`).

Two promises hold everywhere, because tests and benchmarks rely on them:

* the same seed gives the same output, byte for byte (only ``random.Random(seed)``; no wall clock, no locale,
  no hash randomisation), and different seeds give different output;
* memory does not grow with output size: every generator yields one record at a time and every writer streams
  through a small fixed buffer (`common`), so a 1 GiB file costs the same memory as a 1 kB one.

`catalog_records` (`catalog`) makes catalog records of the shape `insert_datalake` and the loads write, for
measuring and testing the catalog at campus scale without storing a million files.

Standard library only, so that this package imports anywhere (even where Airflow is not installed).
"""

from __future__ import annotations

from airflow_provider_datalake.samples.binaries import write_blob
from airflow_provider_datalake.samples.catalog import catalog_records
from airflow_provider_datalake.samples.demo import write_sample_set
from airflow_provider_datalake.samples.lab_csv import LAB_CSV_LOCALES, CsvLocale, write_lab_csv
from airflow_provider_datalake.samples.mqtt import (
    ELECTRICAL_UNITS,
    HEATING_UNITS,
    MQTT_KINDS,
    mqtt_messages,
    write_mqtt_dump,
    write_mqtt_jsonl,
)
from airflow_provider_datalake.samples.readings import sensor_readings, write_sensor_readings_json

__all__ = [
    "ELECTRICAL_UNITS",
    "HEATING_UNITS",
    "LAB_CSV_LOCALES",
    "MQTT_KINDS",
    "CsvLocale",
    "catalog_records",
    "mqtt_messages",
    "sensor_readings",
    "write_blob",
    "write_lab_csv",
    "write_mqtt_dump",
    "write_mqtt_jsonl",
    "write_sample_set",
    "write_sensor_readings_json",
]
