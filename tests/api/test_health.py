"""``/health``, ``/summary`` and ``/reconcile`` on the stack."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.stack


def test_health_reports_every_store(viewer: httpx.Client) -> None:
    report = viewer.get("/health").json()
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["store:catalog"]["ok"] and checks["store:swift"]["ok"], checks
    assert all(c["ok"] for name, c in checks.items() if name.startswith("store:")), checks
    assert {"committed_too_long", "processing_lease_expired", "scheduler", "triggerer"} <= set(checks)
    assert isinstance(report["counts"], dict)
    assert report["quality_24h"]["complete"] in (True, False)


def test_summary_counts(viewer: httpx.Client) -> None:
    summary = viewer.get("/summary").json()
    assert set(summary) >= {"by_status", "waiting", "failed_24h", "rows_quarantined_24h", "oldest_waiting"}
    assert summary["waiting"] == summary["by_status"].get("committed", 0)


def test_reconcile_is_a_dry_run_by_default(operator: httpx.Client, viewer: httpx.Client) -> None:
    assert viewer.post("/reconcile").status_code == 403
    report = operator.post("/reconcile").json()
    assert report["dry_run"] is True
    assert "orphans" in report and "clean" in report
