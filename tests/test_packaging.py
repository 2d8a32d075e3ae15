"""Packaging: every subpackage ships (the list in pyproject.toml is by hand because of dag_templates/)."""

from __future__ import annotations

import tomllib
from importlib.resources import files

from tests.conftest import REPO


def test_every_subpackage_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO).parts)
        for path in (REPO / "airflow_provider_datalake").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert "airflow_provider_datalake.dag_templates" in listed


def test_dag_templates_and_schema_are_package_data() -> None:
    templates = {p.name for p in files("airflow_provider_datalake.dag_templates").iterdir()}
    assert {"datalake_format.py.j2", "datalake_sync.py.j2"} <= templates
    assert files("airflow_provider_datalake.descriptors").joinpath("descriptor.schema.json").is_file()
