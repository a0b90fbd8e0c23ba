"""The explorer in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium): open the finished task, see the rejected attacker marked, follow it to its
update blob and its transaction, search by transaction hash, and take a screenshot
(``build/test-reports/explorer.png``; with ``FEDCHAIN_DOCS_SCREENSHOT=1`` also
``docs/img/explorer-task.png``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REPORTS = Path("build/test-reports")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "explorer-task.png"

pytestmark = [
    pytest.mark.xdist_group("explorer"),  # shares conftest.finished
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="needs Debian's chromium and chromium-driver on PATH (make test installs them: "
        "make browser)",
    ),
]


def _browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1400,2200"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def test_follow_the_rejected_attacker(
    finished: dict[str, Any], served: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    task_id, attacker = finished["task_id"], finished["attacker"]
    driver = _browser(tmp_path / "profile")
    try:
        driver.get(f"{served}/")
        driver.find_element(By.LINK_TEXT, f"task {task_id}").click()
        assert "every check holds" in driver.find_element(By.ID, "audit-verdict").text
        rejected = driver.find_elements(By.CSS_SELECTOR, "tr.rejected")
        assert len(rejected) == len(finished["result"].summary["rounds"])  # one per round
        for row in rejected:
            assert attacker in row.text and "rejected" in row.text and "outlier" in row.text
        assert not any(attacker in row.text for row in
                       driver.find_elements(By.CSS_SELECTOR, "tr.accepted"))  # fmt: skip
        REPORTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(REPORTS / "explorer.png"))
        if os.environ.get("FEDCHAIN_DOCS_SCREENSHOT") == "1":
            shutil.copyfile(REPORTS / "explorer.png", DOCS_SCREENSHOT)
        task_page = driver.current_url

        # the attacker's update blob: verified against its CID, authored by the attacker
        blob_link = rejected[0].find_element(By.CSS_SELECTOR, "a.update-blob")
        cid = blob_link.get_attribute("href").rsplit("/", 1)[-1]
        blob_link.click()
        assert driver.find_element(By.ID, "blob-cid").text == cid
        assert "bytes match the CID" in driver.find_element(By.ID, "blob-verified").text
        assert driver.find_element(By.ID, "blob-kind").text.startswith("update")
        assert attacker in driver.page_source

        # ... and from the blob to the transaction that named it
        driver.find_element(By.CSS_SELECTOR, "a[href^='/tx/']").click()
        assert driver.find_element(By.ID, "tx-function").text == "submitUpdatesBySig"
        assert "UpdateSubmitted" in driver.page_source
        blob_tx = driver.find_element(By.ID, "tx-hash").text

        # the rejected row's own transaction link lands on the same transaction
        driver.get(task_page)
        row = driver.find_elements(By.CSS_SELECTOR, "tr.rejected")[0]
        row.find_element(By.CSS_SELECTOR, "a.update-tx").click()
        assert driver.find_element(By.ID, "tx-hash").text == blob_tx

        # search by the transaction hash from the header's box
        driver.get(f"{served}/")
        driver.find_element(By.NAME, "q").send_keys(blob_tx)
        driver.find_element(By.ID, "search-button").click()
        assert driver.current_url == f"{served}/tx/{blob_tx}"
        assert driver.find_element(By.ID, "tx-hash").text == blob_tx
        assert driver.find_element(By.ID, "tx-function").text == "submitUpdatesBySig"
    finally:
        driver.quit()
