"""``/objects``: upload through insert_datalake(), list and filter, one record, its bytes, reprocess; an
upload cut off or over the limit stores nothing; hostile names stay data."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import urllib.parse

import httpx
import pytest

from tests.api.conftest import API, base_url, token, upload

pytestmark = pytest.mark.stack


def test_upload_list_get_and_download(operator: httpx.Client, viewer: httpx.Client, container: str) -> None:
    data = os.urandom(300_000)
    resp = upload(operator, data, container, "reading.bin", application="api-test", metadata='{"room": "U4"}')
    assert resp.status_code == 201, resp.text
    body = resp.json()
    rec = body["record"]
    assert body["duplicate"] is False
    assert rec["status"] == "committed"
    assert rec["size"] == len(data)
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()
    assert rec["other_data"] == {"room": "U4", "uploaded_by": "operator"}
    assert rec["history"][0]["status"] == "pending" and rec["history"][-1]["status"] == "committed"

    again = upload(operator, data, container, "copy.bin")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["record"]["_id"] == rec["_id"]

    page = viewer.get("/objects", params={"container": container}).json()
    assert [r["_id"] for r in page["objects"]] == [rec["_id"]]
    assert viewer.get("/objects", params={"container": container, "q": "READING"}).json()["objects"]
    assert not viewer.get("/objects", params={"container": container, "q": "other"}).json()["objects"]
    assert viewer.get("/objects", params={"container": container, "application": "api-test"}).json()[
        "objects"
    ]
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert not viewer.get("/objects", params={"container": container, "since": tomorrow}).json()["objects"]
    assert viewer.get("/objects", params={"container": container, "until": tomorrow}).json()["objects"]
    assert viewer.get("/objects", params={"status": "bogus"}).status_code == 422

    detail = viewer.get(f"/objects/{rec['_id']}").json()
    assert detail["record"]["_id"] == rec["_id"]
    assert [s["event"] for s in detail["timeline"]] == ["pending", "committed"]
    assert detail["outcomes"] == {} and detail["lineage"] == [] and detail["dag_id"] is None

    got = viewer.get(f"/objects/{rec['_id']}/content")
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''reading.bin"
    assert got.headers["x-datalake-sha256"] == rec["sha256"]

    assert viewer.get("/objects/no-such-id").status_code == 404
    assert viewer.get(f"/objects/{rec['_id']}/quarantine").json() == []
    # committed, not processed: there is nothing to reprocess
    assert operator.post(f"/objects/{rec['_id']}/reprocess").status_code == 409


def test_paging_by_key(viewer: httpx.Client, operator: httpx.Client, container: str) -> None:
    ids = [
        upload(operator, f"row {i}\n".encode(), container, f"f{i}.txt").json()["record"]["_id"]
        for i in range(5)
    ]
    seen: list[str] = []
    after = None
    while True:
        params = {"container": container, "limit": 2, **({"after": after} if after else {})}
        page = viewer.get("/objects", params=params).json()
        seen += [r["_id"] for r in page["objects"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == list(reversed(ids))


@pytest.mark.parametrize(
    "name", ["<script>alert(1)</script>.csv", "../../etc/passwd", "a\x1b[31mred\nline.txt", "é t/é.txt"]
)
def test_hostile_names_are_data(
    operator: httpx.Client, viewer: httpx.Client, container: str, name: str
) -> None:
    resp = upload(operator, b"x,y\n1,2\n", container, name)
    assert resp.status_code == 201, resp.text
    rec = resp.json()["record"]
    assert rec["original_object_name"] == name  # kept as given: it is data
    got = viewer.get(f"/objects/{rec['_id']}/content")
    disposition = got.headers["content-disposition"]
    filename = urllib.parse.unquote(disposition.split("''", 1)[1])
    assert "/" not in filename and filename not in ("..", ".")
    assert not any(ord(ch) < 32 for ch in filename)  # no control character reaches a saved file's name
    page = httpx.get(
        f"{base_url()}/datalake/ui/objects/{rec['_id']}", cookies={"_token": token("viewer")}, timeout=30
    )
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    if "<script>" in name:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_upload_errors_store_nothing(operator: httpx.Client, viewer: httpx.Client, container: str) -> None:
    assert upload(operator, b"", container, "empty.txt").status_code == 422
    assert upload(operator, b"x", container, "x.txt", format="no_such_format!").status_code == 422
    assert upload(operator, b"x", container, "x.txt", metadata="[1]").status_code == 422
    assert upload(operator, b"x", container, "x.txt", metadata="{bad").status_code == 422
    assert (
        viewer.get("/objects", params={"container": container, "status": list(STATES)}).json()["objects"]
        == []
    )


STATES = ("pending", "reconciling", "committed", "processing", "processed", "failed", "deleted")


def _raw_upload(path: str, headers: dict[str, str], body_parts: list[bytes], hang_up: bool) -> bytes:
    """An HTTP request by hand, sending only ``body_parts``; with ``hang_up`` the client then closes its
    side, as one that stops half-way."""
    url = urllib.parse.urlsplit(base_url())
    with socket.create_connection((url.hostname, url.port), timeout=60) as s:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\n{head}\r\n".encode())
        for part in body_parts:
            s.sendall(part)
        if hang_up:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(60)
        answer = b""
        try:
            while chunk := s.recv(65536):
                answer += chunk
        except OSError:
            pass
        return answer


def test_an_upload_cut_off_half_way_stores_nothing(
    viewer: httpx.Client, admin: httpx.Client, container: str
) -> None:
    query = urllib.parse.urlencode({"name": "cut.bin", "container": container})
    headers = {"Authorization": f"Bearer {token('operator')}", "Content-Length": str(8 << 20)}
    _raw_upload(f"{API}/objects?{query}", headers, [os.urandom(3 << 20)], hang_up=True)
    # The insert rolled back (or left a pending record that reconcile rolls back after its lease): nothing
    # reader-visible, and once reconciled no pending record either.
    assert viewer.get("/objects", params={"container": container}).json()["objects"] == []
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    catalog = CatalogHook()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    reconcile(catalog=catalog, containers=[container], now=later)
    assert catalog.raw_objects.count_documents({"swift_container": container}) == 0


def test_an_upload_over_the_limit_is_refused_with_413(
    operator: httpx.Client, viewer: httpx.Client, container: str
) -> None:
    limit = int(os.environ["AIRFLOW__DATALAKE__UPLOAD_MAX_BYTES"])
    query = urllib.parse.urlencode({"name": "big.bin", "container": container})
    headers = {
        "Authorization": f"Bearer {token('operator')}",
        "Content-Length": str(limit + 1),
        "Connection": "close",
    }
    answer = _raw_upload(f"{API}/objects?{query}", headers, [b"x" * 1000], hang_up=False)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"nothing stored" in answer
    assert viewer.get("/objects", params={"container": container}).json()["objects"] == []


def test_a_streamed_upload_over_the_limit_stops_and_stores_nothing(container: str) -> None:
    """Without a Content-Length (chunked), the count of bytes received stops the upload at the limit."""
    from airflow_provider_datalake.api.objects import TooLarge, _Body

    async def chunks():  # the body a client streams: 10 chunks of 1,000 bytes
        for _ in range(10):
            yield b"x" * 1000

    import anyio

    def read_all(body: _Body) -> int:
        total = 0
        while data := body.read(4096):
            total += len(data)
        return total

    async def main(limit: int) -> int:
        body = _Body(chunks(), limit)
        return await anyio.to_thread.run_sync(read_all, body)

    assert anyio.run(main, 10_000) == 10_000
    with pytest.raises(TooLarge):
        anyio.run(main, 9_999)


def test_reprocess_one_target(admin: httpx.Client) -> None:
    assert admin.post("/objects/no-such-id/reprocess", json={"target": "x"}).status_code == 404


def test_metadata_is_kept_as_given(operator: httpx.Client, container: str) -> None:
    meta = {"room": "<b>U4</b>", "floor": 3}
    rec = upload(operator, b"a\n", container, "m.txt", metadata=json.dumps(meta)).json()["record"]
    assert rec["other_data"]["room"] == "<b>U4</b>" and rec["other_data"]["floor"] == 3
