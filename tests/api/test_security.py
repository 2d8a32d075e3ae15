"""Every endpoint sits behind Airflow's auth manager: 401 without a login, 403 for a viewer's writes and for
a cookie-authenticated write without the page's header."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import API, base_url, token

pytestmark = pytest.mark.stack

READS = [
    "/objects",
    "/objects/0000/quarantine",
    "/objects/0000",
    "/objects/0000/content",
    "/formats",
    "/formats/drafts",
    "/formats/policy",
    "/formats/nothing",
    "/health",
    "/summary",
]
WRITES = [
    ("POST", "/objects?name=x"),
    ("POST", "/objects/0000/reprocess"),
    ("POST", "/formats"),
    ("POST", "/formats/nothing/approve"),
    ("POST", "/formats/nothing/reject"),
    ("PUT", "/formats/policy"),
    ("POST", "/reconcile"),
]
PAGES = ["/", "/formats", "/upload", "/objects/0000", "/formats/x", "/dag/x", "/task/x/y/z"]


@pytest.mark.parametrize("path", READS)
def test_reads_need_a_login(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 401


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_writes_need_a_login(anonymous: httpx.Client, method: str, path: str) -> None:
    assert anonymous.request(method, path, content=b"x").status_code == 401


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_viewer_cannot_write(viewer: httpx.Client, method: str, path: str) -> None:
    resp = viewer.request(method, path, content=b"x")
    assert resp.status_code == 403, resp.text
    assert "right to change assets" in resp.json()["detail"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_a_login(path: str) -> None:
    resp = httpx.get(f"{base_url()}/datalake/ui{path}")
    assert resp.status_code == 401
    assert "text/html" in resp.headers["content-type"]
    assert "Log in to Airflow" in resp.text


def test_a_forged_token_is_refused(anonymous: httpx.Client) -> None:
    resp = anonymous.get("/objects", headers={"Authorization": "Bearer not.a.jwt"})
    assert resp.status_code in (401, 403)


def test_the_session_cookie_reads_but_writes_only_with_the_page_header() -> None:
    """The UI's cookie works for the pages' reads; a write with the cookie alone (what a form on another
    site could make a browser send) is refused, and goes through with the pages' header."""
    cookies = {"_token": token("admin")}
    with httpx.Client(base_url=base_url() + API, cookies=cookies, timeout=30) as c:
        assert c.get("/objects", params={"limit": 1}).status_code == 200
        refused = c.put("/formats/policy", json={"mode": "review", "container": "test-api-cookie"})
        assert refused.status_code == 403
        assert "X-Datalake-Request" in refused.json()["detail"]
        ok = c.put(
            "/formats/policy",
            json={"mode": "review", "container": "test-api-cookie"},
            headers={"X-Datalake-Request": "page"},
        )
        assert ok.status_code == 200, ok.text


def test_openapi_documents_the_versioned_api(admin: httpx.Client) -> None:
    spec = httpx.get(f"{base_url()}/datalake/openapi.json").json()
    paths = set(spec["paths"])
    v1 = "/api/v1"  # the paths of the app that Airflow mounts under /datalake
    assert {f"{v1}/objects", f"{v1}/objects/{{record_id}}", f"{v1}/formats/validate", f"{v1}/health"} <= paths
    assert not any(p.startswith("/ui") for p in paths)
