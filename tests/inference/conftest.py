"""Inference tests on the stack use the raw zone's isolated `lake` (own catalog database and container)."""

from tests.ingest.conftest import lake

__all__ = ["lake"]
