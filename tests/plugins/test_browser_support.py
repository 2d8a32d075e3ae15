"""``airflow_login`` against Airflow's own login page, with no Airflow running.

The stack runs Airflow with every user an admin (no login form) until its users get passwords, so the
form's path of the helper is tested here: the Simple auth manager's login page is the React app that Airflow
ships in its package, served as the API server serves it, with a stand-in for its token endpoint and for the
UI behind it. What the helper relies on (the form's fields, the error alert, the cookie, the navigation) is
then checked in a real browser on every run, against the Airflow version of the lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser_support import AIRFLOW_NAV, LOGIN_USERNAME, airflow_login

PASSWORDS = {"viewer": "s3cret-viewer"}
TOKEN = "header.payload.signature"
HOME = b'<html><head><title>Airflow</title></head><body><nav data-testid="nav-sidebar">UI</nav></body>'


def login_ui() -> Path:
    import airflow.api_fastapi.auth.managers.simple as simple

    return Path(simple.__file__).parent / "ui" / "dist"


class FakeAirflow(BaseHTTPRequestHandler):
    """The API server's routes that the login goes through: ``/api/v2/auth/login`` (to the login page),
    ``/auth/login`` (the login app), ``/auth/static/...`` (its files), ``POST /auth/token``, and the UI
    (any other path; the login page again until the ``_token`` cookie is set)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(307)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/auth/static/"):
            file = login_ui() / path.removeprefix("/auth/static/")
            if not file.is_file():
                return self.send(404, b"", "text/plain")
            kind = "text/javascript" if file.suffix == ".js" else "image/png"
            return self.send(200, file.read_bytes(), kind)
        if path == "/api/v2/auth/login":  # the API server's way in: to its auth manager's login page
            query = self.path.partition("?")[2]
            return self.redirect(f"/auth/login?{query}")
        if path != "/auth/login":  # the UI with the session's cookie, else the login page, as in Airflow
            if f"_token={TOKEN}" in (self.headers.get("Cookie") or ""):
                return self.send(200, HOME, "text/html")
            return self.redirect(f"/auth/login?{urlencode({'next': self.path})}")
        # The login app: Airflow's template, its base the server's root, as the API server renders it.
        page = (login_ui() / "index.html").read_text().replace("{{ backend_server_base_url }}", "/")
        return self.send(200, page.encode(), "text/html")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        body = json.loads(raw) if raw.startswith("{") else {k: v[0] for k, v in parse_qs(raw).items()}
        if self.path.split("?", 1)[0] != "/auth/token":
            return self.send(404, b"", "text/plain")
        if PASSWORDS.get(body.get("username")) == body.get("password"):
            return self.send(201, json.dumps({"access_token": TOKEN}).encode(), "application/json")
        detail = json.dumps({"detail": "Invalid credentials"}).encode()
        return self.send(401, detail, "application/json")


@pytest.fixture(scope="module")
def fake_airflow() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_login_form_is_filled_in_and_the_ui_opens(browser: WebDriver, fake_airflow: str) -> None:
    assert airflow_login(browser, fake_airflow, "viewer", PASSWORDS["viewer"]) is True
    assert browser.find_elements("css selector", AIRFLOW_NAV)


def test_a_refused_password_fails_with_airflows_message(browser: WebDriver, fake_airflow: str) -> None:
    refused = r"refused the login of 'viewer': 401 Unauthorized Invalid credentials"
    with pytest.raises(pytest.fail.Exception, match=refused):
        airflow_login(browser, fake_airflow, "viewer", "wrong", timeout=10)
    assert browser.find_elements("css selector", LOGIN_USERNAME)


def test_a_form_without_a_password_to_give_fails_naming_the_variable(
    browser: WebDriver, fake_airflow: str
) -> None:
    with pytest.raises(pytest.fail.Exception, match="DATALAKE_AIRFLOW_OPERATOR_PASSWORD"):
        airflow_login(browser, fake_airflow, "operator", None, timeout=10)
