"""Airflow's UI in a real browser: the smoke test of the browser-test set-up (Chromium, login, screenshot)."""

from __future__ import annotations

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser_support import AIRFLOW_NAV, airflow_login, airflow_password, shot, wait_for_css

pytestmark = pytest.mark.stack


def test_the_home_page_renders_for_the_admin(browser: WebDriver, airflow_ui: str) -> None:
    airflow_login(browser, airflow_ui, "admin", airflow_password("admin"))
    wait_for_css(browser, AIRFLOW_NAV, "Airflow's navigation")
    wait_for_css(browser, '[data-testid="stats-card"]', "the home page's DAG statistics")
    path = shot(browser, "airflow-home")
    assert path.stat().st_size > 10_000, f"{path} is too small to hold a rendered page"
    assert "Airflow" in browser.title
