"""The Data lake in Airflow's UI, in a real headless Chromium: log in, open Data lake, upload a campus file
and watch it reach processed, open its quarantined rows, approve an inferred draft; the DAG and task tabs,
the dashboard widget, a viewer's page, the dark theme. Each page checked is saved as a screenshot."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser_support import AIRFLOW_NAV, airflow_login, airflow_password, shot, wait_for_css
from tests.factory.conftest import format_under_airflow

pytestmark = pytest.mark.stack

CAMPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "neocampus" / "sensor_reading.json"


def descriptor_yaml(name: str) -> str:
    """The campus's sensor-readings export format (examples/sensor_readings.yaml), under a test's name."""
    return f"""\
name: {name}
description: readings exported from the older sensor database
parser:
  kind: json
fields:
  - {{name: sensor_id, source: idcapteur, type: int, required: true}}
  - {{name: room_id, source: idpiece, type: int}}
  - {{name: value, type: float}}
  - {{name: measured_at, source: datemesure, type: timestamp, required: true}}
  - {{name: unit, source: mesurevaleur}}
targets:
  - store: postgres
    schema: test_ui
    table: {name}
    mode: replace_object
"""


def campus_file(folder: Path) -> Path:
    """Readings shaped as the campus sample (../shared/data/neocampus), two of them bad."""
    sample = (
        json.loads(CAMPUS.read_text())
        if CAMPUS.exists()
        else {
            "idcapteur": 4,
            "idpiece": 1,
            "value": 15,
            "datemesure": "2019-06-12T00:00:18.388374",
            "mesurevaleur": "celsius",
        }
    )
    rows = [{**sample, "idcapteur": i, "value": 15 + i / 10} for i in range(20)]
    rows[3]["value"] = "<b>hot</b>"  # not a float, and markup: quarantined with its reason, shown as text
    rows[7]["datemesure"] = None  # required
    path = folder / f"sensor_readings_{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(rows))
    return path


def login(browser: WebDriver, base: str, user: str) -> None:
    airflow_login(browser, base, user, airflow_password(user))


def text_of(browser: WebDriver, css: str) -> str:
    return str(browser.find_element(By.CSS_SELECTOR, css).text)


def wait_text(browser: WebDriver, css: str, wanted: tuple[str, ...], timeout: float) -> str:
    """The element's text once it is one of ``wanted``. The page re-renders while it refreshes: an element
    found a moment ago may be replaced before its text is read (stale), and the next poll looks again."""

    def seen(d: WebDriver) -> str | bool:
        els = d.find_elements(By.CSS_SELECTOR, css)
        text = els[0].text if els else None
        return text if text in wanted else False

    try:
        wait = WebDriverWait(
            browser, timeout, poll_frequency=1, ignored_exceptions=(StaleElementReferenceException,)
        )
        return str(wait.until(seen))
    except Exception:
        shot(browser, "timeout")
        pytest.fail(f"{css} never showed one of {wanted} in {timeout:.0f}s (screenshot timeout.png)")


@pytest.fixture(scope="module")
def campus_format() -> Iterator[tuple[str, str]]:
    """A campus format with its DAG running in the stack's Airflow: (name, dag_id)."""
    from airflow_provider_datalake.descriptors.loader import parse_descriptor

    name = f"ui_readings_{uuid.uuid4().hex[:6]}"
    with format_under_airflow(parse_descriptor(descriptor_yaml(name))) as dag_id:
        yield name, dag_id
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    CatalogHook().raw_objects.delete_many({"format": name})


def test_upload_a_campus_file_and_read_its_quarantine(
    browser: WebDriver, airflow_ui: str, campus_format: tuple[str, str], tmp_path: Path
) -> None:
    name, dag_id = campus_format
    login(browser, airflow_ui, "admin")

    # The nav entry opens the catalog inside Airflow's UI.
    browser.get(f"{airflow_ui}/plugin/datalake")
    wait_for_css(browser, "iframe", "the Data lake view's frame")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe")
    assert frame.get_attribute("src").endswith("/datalake/ui/")
    browser.switch_to.frame(frame)
    wait_for_css(browser, "form.filters", "the catalog's filters")
    browser.switch_to.default_content()
    shot(browser, "datalake-nav-catalog")

    # Upload: drag-and-drop's file input, the format chosen, progress, then the record as it moves on.
    browser.get(f"{airflow_ui}/datalake/ui/upload")
    wait_for_css(browser, "#upload-form", "the upload form")
    browser.find_element(By.ID, "file").send_keys(str(campus_file(tmp_path)))
    Select(browser.find_element(By.NAME, "format")).select_by_value(name)
    browser.find_element(By.NAME, "metadata").send_keys('{"building": "U4"}')
    browser.find_element(By.ID, "upload-button").click()
    wait_text(browser, "#result-status", ("committed", "processing", "processed"), 60)
    shot(browser, "datalake-upload-committed")
    wait_text(browser, "#result-status", ("processed",), 240)
    shot(browser, "datalake-upload-processed")

    # Its page: lineage, outcome, and the two bad rows with their reasons, markup shown as text.
    browser.find_element(By.ID, "result-link").click()
    wait_for_css(browser, "#lineage", "the object's lineage")
    assert text_of(browser, "#status") == "processed"
    assert "test_ui." + name in text_of(browser, "#lineage")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.quarantine tbody tr")
    assert len(rows) == 2, [r.text for r in rows]
    assert "<b>hot</b>" in rows[0].text or "<b>hot</b>" in rows[1].text
    assert not browser.find_elements(By.CSS_SELECTOR, "table.quarantine b")  # no markup from the data
    browser.get(browser.current_url + "#quarantine")
    shot(browser, "datalake-object-quarantine")

    # The catalog lists it, filtered by format.
    browser.get(f"{airflow_ui}/datalake/ui/?format={name}")
    wait_for_css(browser, "table.grid tbody tr td a", "the catalog's rows")
    assert "processed" in text_of(browser, "table.grid tbody")
    shot(browser, "datalake-catalog-filtered")

    # The DAG's Data lake tab, inside Airflow's DAG page.
    browser.get(f"{airflow_ui}/dags/{dag_id}/plugin/datalake-dag")
    wait_for_css(browser, "iframe", "the DAG tab's frame")
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe"))
    wait_for_css(browser, "table.grid", "the DAG tab's recent objects")
    assert name in browser.page_source
    browser.switch_to.default_content()
    shot(browser, "datalake-dag-tab")


def test_the_load_task_tab_shows_the_objects_it_loaded(
    browser: WebDriver, airflow_ui: str, campus_format: tuple[str, str]
) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    name, dag_id = campus_format
    rec = next(CatalogHook().find(fmt=name, status="processed", limit=1), None)
    assert rec is not None, "the upload test processed an object of this format"
    run_id = rec["successful_operations"][-1]["run_id"]
    login(browser, airflow_ui, "viewer")
    task = f"load__postgres_{name}"
    browser.get(f"{airflow_ui}/datalake/ui/task/{dag_id}/{run_id}/{task}")
    wait_for_css(browser, "#task-objects", "the task tab's objects")
    body = text_of(browser, "#task-objects")
    assert "loaded" in body and "18" in body  # 18 rows loaded, 2 quarantined
    shot(browser, "datalake-task-tab")
    # A viewer reads, but gets no button that would write.
    browser.get(f"{airflow_ui}/datalake/ui/objects/{rec['_id']}")
    wait_for_css(browser, "#lineage", "the object page")
    assert not browser.find_elements(By.CSS_SELECTOR, "button[data-post]")
    shot(browser, "datalake-object-viewer")


def test_approve_an_inferred_draft(browser: WebDriver, airflow_ui: str) -> None:
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.inference.drafts import Drafts

    name = f"ui_draft_{uuid.uuid4().hex[:6]}"
    store = FormatStore(CatalogHook())
    Drafts(store).push_draft(
        parse_descriptor(descriptor_yaml(name)), reason="new format", source="export.json"
    )
    try:
        login(browser, airflow_ui, "operator")
        browser.get(f"{airflow_ui}/datalake/ui/formats")
        wait_for_css(browser, "#drafts", "the drafts waiting for review")
        assert name in text_of(browser, "#drafts")
        shot(browser, "datalake-formats")
        browser.find_element(By.LINK_TEXT, name).click()
        assert wait_text(browser, "#format-status", ("draft",), 30)
        shot(browser, "datalake-draft")
        browser.find_element(By.XPATH, "//button[text()='Approve']").click()
        WebDriverWait(browser, 10).until(lambda d: d.switch_to.alert).accept()
        wait_text(browser, "#format-status", ("active",), 30)
        shot(browser, "datalake-draft-approved")
        assert store.get_version(name) is not None
    finally:
        store.collection.delete_many({"name": name})


def test_the_dashboard_widget_and_the_dark_theme(browser: WebDriver, airflow_ui: str) -> None:
    login(browser, airflow_ui, "viewer")
    wait_for_css(browser, AIRFLOW_NAV, "Airflow's navigation")
    wait_for_css(browser, "#datalake-widget [data-stat='processed']", "the Data lake widget's counts", 60)
    shot(browser, "datalake-dashboard-widget")
    browser.execute_script("window.localStorage.setItem('theme', 'dark')")
    try:
        browser.get(f"{airflow_ui}/datalake/ui/")
        wait_for_css(browser, "form.filters", "the catalog")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("data-theme") == "dark"
        time.sleep(0.2)
        shot(browser, "datalake-catalog-dark")
    finally:
        browser.execute_script("window.localStorage.setItem('theme', 'light')")
