"""Provider metadata: valid for Airflow's own schema, the Swift form declared without importing hooks, and
every module, class and handler it names importable."""

from __future__ import annotations

import importlib
import json
from importlib import metadata
from pathlib import Path

import airflow
import jsonschema
from airflow.sdk import BaseOperatorLink
from airflow.sdk.module_loading import import_string

from airflow_provider_datalake import __version__
from airflow_provider_datalake.asset_uris import sanitize_uri
from airflow_provider_datalake.get_provider_info import get_provider_info
from airflow_provider_datalake.operators.formats import DataLakeObjectsLink


def test_matches_airflow_provider_info_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_names_and_version() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-datalake"
    assert info["versions"] == [__version__]


def test_swift_connection_form_is_declarative() -> None:
    (swift,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "swift"]
    assert swift["hook-class-name"] == "airflow_provider_datalake.hooks.swift.SwiftHook"
    fields = swift["conn-fields"]
    names = ("auth_version", "project_name", "user_domain_name", "region_name", "interface", "insecure")
    for name in (*names, "slo_threshold_mb", "segment_size_mb", "segment_threads"):
        assert name in fields
        jsonschema.Draft7Validator.check_schema(fields[name]["schema"])
    assert "schema" in swift["ui-field-behaviour"]["hidden-fields"]


def test_entry_points_are_registered() -> None:
    eps = metadata.entry_points()
    providers = {ep.value for ep in eps.select(group="apache_airflow_provider")}
    assert "airflow_provider_datalake.get_provider_info:get_provider_info" in providers
    plugins = {ep.value for ep in eps.select(group="airflow.plugins")}
    assert "airflow_provider_datalake.plugins.datalake_plugin:DatalakePlugin" in plugins
    scripts = {ep.name for ep in eps.select(group="console_scripts")}
    assert "datalake" in scripts


def test_every_named_module_and_class_imports() -> None:
    """What Airflow's provider manager will import: modules per integration, the links, the URI handler."""
    info = get_provider_info()
    integrations = {i["integration-name"] for i in info["integrations"]}
    for kind in ("hooks", "operators", "sensors", "triggers"):
        assert info[kind], kind
        for entry in info[kind]:
            assert entry["integration-name"] in integrations, (kind, entry)
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for name in info["extra-links"]:
        assert issubclass(import_string(name), BaseOperatorLink)


def test_datalake_uris_have_our_handler() -> None:
    (uris,) = get_provider_info()["asset-uris"]
    assert uris["schemes"] == ["datalake"]
    assert import_string(uris["handler"]) is sanitize_uri


def test_the_plugin_and_the_load_link_are_declared() -> None:
    info = get_provider_info()
    assert info["plugins"] == [
        {
            "name": "datalake",
            "plugin-class": "airflow_provider_datalake.plugins.datalake_plugin.DatalakePlugin",
        }
    ]
    assert import_string(info["extra-links"][0]) is DataLakeObjectsLink
