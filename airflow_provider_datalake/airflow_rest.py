"""A small client of Airflow's own REST API, logged in as one user: what the demo, the tests and the
benchmarks use to watch DAGs and runs, and to call the plugin's endpoints with a real login.

Standard library only. The token comes from the auth manager's ``POST /auth/token`` (the Simple auth
manager's login; other auth managers issue the same JWT through their own login) and is fetched again when
it expires.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class AirflowRestError(RuntimeError):
    """Airflow's API server answered with an error, or could not be reached; ``status`` is the HTTP code
    (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AirflowRest:
    """Requests to one Airflow API server, as one user (``Authorization: Bearer <JWT>``)."""

    def __init__(self, base_url: str, username: str | None = None, password: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self._token: str | None = None

    @classmethod
    def from_env(cls, user: str = "admin") -> AirflowRest:
        """The stack's API server (``AIRFLOW__API__BASE_URL``) as ``user``, whose password the stack's env
        file exports as ``DATALAKE_AIRFLOW_<USER>_PASSWORD``."""
        base = os.environ.get("AIRFLOW__API__BASE_URL")
        if not base:
            raise AirflowRestError("AIRFLOW__API__BASE_URL is not set: load the stack's env (`.stack/env`)")
        password = os.environ.get(f"DATALAKE_AIRFLOW_{user.upper()}_PASSWORD")
        return cls(base, user if password else None, password)

    def token(self, renew: bool = False) -> str | None:
        """A JWT for this user (None without credentials: an auth manager that lets everyone in)."""
        if self.username is None or self.password is None:
            return None
        if self._token is None or renew:
            body = json.dumps({"username": self.username, "password": self.password}).encode()
            answer = self._send("POST", "/auth/token", body, {"Content-Type": "application/json"}, auth=False)
            self._token = str(json.loads(answer)["access_token"])
        return self._token

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        """The answer's body; an expired token is renewed once."""
        try:
            return self._send(method, path, body, headers or {})
        except AirflowRestError as exc:
            if exc.status != 401 or self.username is None:
                raise
            self.token(renew=True)
            return self._send(method, path, body, headers or {})

    def get_json(self, path: str, **params: Any) -> Any:
        """GET ``path`` (under the server's root, e.g. ``/api/v2/dags``) as JSON; None for a 404."""
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
        try:
            return json.loads(self.request("GET", path + (f"?{query}" if query else "")))
        except AirflowRestError as exc:
            if exc.status == 404:
                return None
            raise

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], auth: bool = True
    ) -> bytes:
        headers = dict(headers)
        token = self.token() if auth else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (a configured Airflow URL)
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise AirflowRestError(f"{method} {path}: HTTP {exc.code} {detail}", exc.code) from exc
        except OSError as exc:
            raise AirflowRestError(f"Airflow's API server at {self.base_url} did not answer: {exc}") from exc
