"""Fixtures of the browser tests of Airflow's UI and the plugin's pages (helpers: tests/browser_support.py).

One headless Chromium serves the whole session: starting one costs a second or two, and each test logs in
again anyway (``airflow_login`` drops the cookies first), so tests do not leak a user into one another.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser_support import screenshot_dir, start_chromium


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Headless Chromium (1400x1000) under Selenium, with a fresh profile; chromedriver's log goes beside the
    screenshots, where a failing test is read."""
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), folder / "chromedriver.log")
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def airflow_ui() -> str:
    """The stack's Airflow API server (which serves the UI), once its health endpoint answers."""
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if not base:
        pytest.fail("AIRFLOW__API__BASE_URL is not set: run `make stack-up` (it writes .stack/env)")
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5):  # noqa: S310 (loopback)
            pass
    except OSError as exc:
        pytest.fail(f"Airflow API server is down at {base} ({exc}): start it with `make stack-up`")
    return base
