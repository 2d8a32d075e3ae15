"""Provider metadata read by Airflow's provider manager (entry point `apache_airflow_provider`).

Connection form fields are declared here (`conn-fields` / `ui-field-behaviour`) so that Airflow 3.2+ renders
the forms without importing our hooks. Modules and classes are named as strings: the provider manager
imports them when it needs them (``asset-uris``'s handler checks every ``datalake://`` Asset as it is made).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_datalake.version import __version__

SWIFT_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "auth_version": {
        "label": "Auth version",
        "description": "1.0 for TempAuth (the Swift all-in-one), 3 for Keystone v3.",
        "schema": {"type": ["string", "null"], "enum": ["1.0", "3", None], "default": "1.0"},
    },
    "project_name": {
        "label": "Project name",
        "description": "Keystone v3 project (tenant) to scope the token to.",
        "schema": {"type": ["string", "null"]},
    },
    "project_domain_name": {
        "label": "Project domain name",
        "schema": {"type": ["string", "null"], "default": "Default"},
    },
    "user_domain_name": {
        "label": "User domain name",
        "schema": {"type": ["string", "null"], "default": "Default"},
    },
    "region_name": {"label": "Region", "schema": {"type": ["string", "null"]}},
    "interface": {
        "label": "Endpoint interface",
        "schema": {"type": ["string", "null"], "enum": ["public", "internal", "admin", None]},
    },
    "insecure": {
        "label": "Skip TLS verification",
        "description": "Only for test clusters with self-signed certificates.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "slo_threshold_mb": {
        "label": "Large-object threshold (MiB)",
        "description": "Files above this size are uploaded as Static Large Objects.",
        "schema": {"type": ["integer", "null"], "default": 256},
    },
    "segment_size_mb": {
        "label": "SLO segment size (MiB)",
        "schema": {"type": ["integer", "null"], "default": 100},
    },
    "segment_threads": {
        "label": "SLO segments sent at once",
        "description": "Segments of one large file sent in parallel (1 to 64), 1 MiB of memory each.",
        "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 64, "default": 10},
    },
}


#: The integration of the package's own parts (catalog, format DAGs, gold operators, raw-object events).
DATALAKE = "Datalake"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-datalake",
        "name": "Datalake",
        "description": (
            "Airflow as a data lake: raw files kept in OpenStack Swift and described in a MongoDB catalog, "
            "format descriptors turned into DAGs, typed data loaded into PostgreSQL, InfluxDB, MongoDB "
            "and Neo4j."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "OpenStack Swift",
                "external-doc-url": "https://docs.openstack.org/swift/latest/",
                "tags": ["service"],
            },
            {
                "integration-name": DATALAKE,
                "tags": ["software"],
            },
        ],
        "hooks": [
            {
                "integration-name": "OpenStack Swift",
                "python-modules": ["airflow_provider_datalake.hooks.swift"],
            },
            {"integration-name": DATALAKE, "python-modules": ["airflow_provider_datalake.hooks.catalog"]},
        ],
        "operators": [
            {
                "integration-name": DATALAKE,
                "python-modules": [
                    f"airflow_provider_datalake.operators.{name}"
                    for name in ("formats", "gold", "postgres", "influxdb", "mongo", "neo4j")
                ],
            },
        ],
        "sensors": [
            {
                "integration-name": DATALAKE,
                "python-modules": ["airflow_provider_datalake.sensors.raw_objects"],
            },
        ],
        "triggers": [
            {
                "integration-name": DATALAKE,
                "python-modules": ["airflow_provider_datalake.triggers.raw_objects"],
            },
        ],
        "asset-uris": [
            {"schemes": ["datalake"], "handler": "airflow_provider_datalake.asset_uris.sanitize_uri"},
        ],
        "extra-links": ["airflow_provider_datalake.operators.formats.DataLakeObjectsLink"],
        "connection-types": [
            {
                "connection-type": "swift",
                "hook-class-name": "airflow_provider_datalake.hooks.swift.SwiftHook",
                "hook-name": "OpenStack Swift",
                "conn-fields": SWIFT_CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema"],
                    "relabeling": {"login": "User (account:user or Keystone user)", "password": "Key"},
                    "placeholders": {
                        "host": "swift.example.org or the Keystone host",
                        "login": "test:tester",
                        "port": "8080 (TempAuth) or 5000 (Keystone)",
                    },
                },
            },
        ],
        "plugins": [
            {
                "name": "datalake",
                "plugin-class": "airflow_provider_datalake.plugins.datalake_plugin.DatalakePlugin",
            },
        ],
    }
