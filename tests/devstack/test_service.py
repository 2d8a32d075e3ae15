"""The stack's shared service helpers (devstack/service.py) that need no server."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import REPO


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch):
    # devstack/ runs as a folder of scripts (stack.py imports its siblings by their bare names).
    monkeypatch.syspath_prepend(str(REPO / "devstack"))
    return importlib.import_module("service")


def test_a_new_secret_never_reads_as_a_command_line_option(service) -> None:
    # token_urlsafe starts with "-" once in 64 draws; `keystone-manage bootstrap --bootstrap-password -x…`
    # then failed a fresh stack with "expected one argument".
    drawn = [service.new_secret(18) for _ in range(2000)]
    assert not [s for s in drawn if s.startswith("-")]
    assert len(set(drawn)) == len(drawn)
    assert all(len(s) >= 24 for s in drawn)
