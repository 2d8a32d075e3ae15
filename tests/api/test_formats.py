"""``/formats``: validate with located problems, push, list, one with versions; drafts approved and
rejected; the inference policy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import base_url, token

pytestmark = pytest.mark.stack


def descriptor(name: str, table: str = "readings") -> str:
    return f"""\
name: {name}
description: a test format
parser:
  kind: csv
fields:
  - name: sensor
    type: int
    required: true
  - name: value
    type: float
targets:
  - store: postgres
    schema: test_api
    table: {table}
    mode: replace_object
"""


@pytest.fixture
def name() -> Iterator[str]:
    """A format name for one test; every version of it is removed afterwards."""
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    found = f"test_api_{uuid.uuid4().hex[:8]}"
    yield found
    FormatStore(CatalogHook()).collection.delete_many({"name": found})


YAML = {"Content-Type": "application/yaml"}


def test_validate_locates_problems(viewer: httpx.Client, name: str) -> None:
    ok = viewer.post("/formats/validate", content=descriptor(name), headers=YAML).json()
    assert ok == {"valid": True, "name": name, "problems": []}
    bad = descriptor(name).replace("type: float", "type: floaty")
    found = viewer.post("/formats/validate", content=bad, headers=YAML).json()
    assert found["valid"] is False
    [problem] = found["problems"]
    assert problem["line"] == 10
    assert "type" in problem["field_path"]
    broken = viewer.post("/formats/validate", content="name: [unclosed\n", headers=YAML).json()
    assert broken["valid"] is False and broken["problems"][0]["line"] is not None


def test_push_list_show_versions(operator: httpx.Client, viewer: httpx.Client, name: str) -> None:
    pushed = operator.post("/formats", content=descriptor(name), headers=YAML)
    assert pushed.status_code == 201, pushed.text
    assert pushed.json() == {"name": name, "version": 1, "changed": True, "dag_id": f"datalake__{name}"}
    same = operator.post("/formats", params={"if_changed": True}, content=descriptor(name), headers=YAML)
    assert same.json()["changed"] is False
    operator.post("/formats", content=descriptor(name, table="readings2"), headers=YAML)

    listed = {f["name"]: f for f in viewer.get("/formats").json()}
    assert listed[name]["version"] == 2
    assert listed[name]["targets"] == [
        {"target": "postgres_readings2", "store": "postgres", "location": "test_api.readings2"}
    ]
    shown = viewer.get(f"/formats/{name}").json()
    assert shown["version"] == 2 and "readings2" in shown["yaml"]
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["author"] == "operator"
    assert viewer.get(f"/formats/{name}", params={"version": 1}).json()["version"] == 1
    assert viewer.get("/formats/no_such_format").status_code == 404

    invalid = operator.post(
        "/formats", content=descriptor(name).replace("kind: csv", "kind: nope"), headers=YAML
    )
    assert invalid.status_code == 422
    assert invalid.json()["detail"]["problems"][0]["line"] == 4
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    FormatStore(CatalogHook()).deactivate(name)


def test_a_draft_is_approved_or_rejected(operator: httpx.Client, viewer: httpx.Client, name: str) -> None:
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.inference.drafts import Drafts

    store = FormatStore(CatalogHook())
    drafts = Drafts(store)
    drafts.push_draft(parse_descriptor(descriptor(name)), reason="new format", source="export.csv")
    waiting = {d["name"]: d for d in viewer.get("/formats/drafts").json()}
    assert waiting[name]["reason"] == "new format" and waiting[name]["source"] == "export.csv"
    assert waiting[name]["waiting"] == 0 and waiting[name]["objects"] == []
    assert waiting[name]["shape"].startswith(parse_descriptor(descriptor(name)).parser.kind)
    assert "field(s):" in waiting[name]["shape"] and "confidence" in waiting[name]
    page = httpx.get(f"{base_url()}/datalake/ui/formats", cookies={"_token": token("viewer")}, timeout=30)
    assert page.status_code == 200 and "<th>Shape</th><th>Confidence</th>" in page.text  # the page shows them
    shown = viewer.get(f"/formats/{name}").json()
    assert shown["status"] == "draft"
    assert viewer.post(f"/formats/{name}/approve").status_code == 403

    approved = operator.post(f"/formats/{name}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["version"] == 1 and approved.json()["released"] == []
    assert viewer.get(f"/formats/{name}").json()["status"] == "active"
    assert operator.post(f"/formats/{name}/approve").status_code == 404  # no draft left
    store.deactivate(name)

    drafts.push_draft(parse_descriptor(descriptor(name, table="other")), reason="changed", source="b.csv")
    rejected = operator.post(f"/formats/{name}/reject", params={"reason": "<b>wrong</b> types"})
    assert rejected.status_code == 200
    versions = viewer.get(f"/formats/{name}", params={"version": 2}).json()["versions"]
    assert versions[-1]["status"] == "rejected" and versions[-1]["reject_reason"] == "<b>wrong</b> types"
    assert versions[-1]["rejected_by"] == "operator"


def test_policy(operator: httpx.Client, viewer: httpx.Client) -> None:
    container = f"test-api-{uuid.uuid4().hex[:6]}"
    assert operator.put("/formats/policy", json={"mode": "auto", "container": container}).status_code == 200
    rows = viewer.get("/formats/policy").json()
    assert {"scope": "container", "value": container, "mode": "auto"}.items() <= next(
        r for r in rows if r.get("value") == container
    ).items()
    assert operator.put("/formats/policy", json={"mode": "auto"}).status_code == 422
    assert operator.put("/formats/policy", json={"mode": "sometimes", "container": "x"}).status_code == 422
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.inference.drafts import PolicyStore

    PolicyStore(CatalogHook()).collection.delete_many({"value": container})
