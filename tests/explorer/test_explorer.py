"""The explorer over a real task: its JSON API and pages (Starlette's test client), then the
pages in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``), following a
rejected attacker to its update blob and its transaction, and searching by transaction hash."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from fedchain.audit import AuditSource
from fedchain.chain.connection import connect
from fedchain.explorer import create_app
from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, run_simulation
from fedchain.storage import open_store

# Starlette's test client warns that it will move from httpx to httpx2 (not installed here).
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}
ATTACKER = 4


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    torch.set_num_threads(1)
    store_dir = tmp_path_factory.mktemp("store")
    task = TaskFile.from_dict({
        "task": {"max_clients": 5, "rounds": 2, "byzantine_f": 1, "committee_size": 3},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": 6 * 10**15},
        "training": {"epochs": 1},
    })  # fmt: skip
    chain = connect("embedded", seed=3, accounts=2)
    try:
        result = run_simulation(
            SimConfig(task=task, test_size=100, miners=3, seed=3, store=f"local:{store_dir}",
                      attacks={ATTACKER: LOUD_FLIP}),
            chain=chain,
        )  # fmt: skip
        dep = result.deployment
        assert dep is not None
        store = open_store(f"local:{store_dir}")
        source = AuditSource(chain=chain, deployment=dep, store=store,
                             from_block=dep.deployed_block, where="the embedded chain")  # fmt: skip
        yield {"source": source, "result": result, "task_id": int(result.summary["task_id"]),
               "attacker": result.summary["clients"][ATTACKER]}  # fmt: skip
        store.close()
    finally:
        chain.close()


def test_api_and_pages(finished: dict[str, Any]) -> None:
    from starlette.testclient import TestClient

    task_id, attacker = finished["task_id"], finished["attacker"]
    with TestClient(create_app(finished["source"])) as client:
        tasks = client.get("/api/tasks").json()["tasks"]
        assert [t["task_id"] for t in tasks] == [task_id] and tasks[0]["status"] == "finished"
        page = client.get(f"/api/task/{task_id}").json()
        assert page["ok"] is True and page["exit_code"] == 0
        for row in page["rounds"]:
            verdicts = {s["client"]: s for s in row["submissions"]}
            assert verdicts[attacker]["accepted"] is False
            assert "outlier" in verdicts[attacker]["reason"]
            assert verdicts[attacker]["score"] is not None
            assert all(s["audit"] == "ok" for s in row["submissions"])
        html = client.get(f"/task/{task_id}").text
        assert 'class="rejected"' in html and attacker in html
        update = page["rounds"][0]["submissions"][0]
        blob = client.get(f"/api/blob/{update['cid']}").json()
        assert blob["verified"] is True and blob["kind"] == "update"
        assert blob["author"].lower() == update["client"].lower() and blob["tensors"]
        assert client.get(f"/blob/{update['cid']}/raw").content[:8]  # the bytes download
        tx = client.get(f"/api/tx/{update['tx_hash']}").json()
        assert tx["function"] == "submitUpdatesBySig" and tx["status"] == 1
        assert any(e["name"] == "UpdateSubmitted" for e in tx["events"])
        who = client.get(f"/api/address/{attacker}").json()
        assert task_id in who["tasks"] and who["payouts"]
        found = client.get(f"/search?q={update['tx_hash']}", follow_redirects=False)
        assert found.status_code == 303 and found.headers["location"] == f"/tx/{update['tx_hash']}"
        assert client.get("/search?q=not-a-thing").status_code == 404
        assert client.get("/task/999").status_code == 404
        assert client.get("/api/tx/0x" + "00" * 32).status_code == 404


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(finished: dict[str, Any]) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(finished["source"]), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the explorer did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                 "--window-size=1400,2200"):  # fmt: skip
        options.add_argument(flag)
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("chromedriver") is None,
    reason="needs Debian's chromium and chromium-driver (make test installs them)",
)
def test_in_headless_chromium(finished: dict[str, Any], served: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    task_id, attacker = finished["task_id"], finished["attacker"]
    driver = _browser(tmp_path / "profile")
    try:
        driver.set_page_load_timeout(60)
        driver.get(f"{served}/")
        driver.find_element(By.LINK_TEXT, f"task {task_id}").click()
        assert "every check holds" in driver.find_element(By.ID, "audit-verdict").text
        rejected = driver.find_elements(By.CSS_SELECTOR, "tr.rejected")
        assert rejected and all(attacker in row.text for row in rejected)
        assert all("rejected" in row.text for row in rejected)
        reports = Path("build/test-reports")
        reports.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(reports / "explorer.png"))
        blob_link = rejected[0].find_element(By.CSS_SELECTOR, "a.update-blob")
        cid = blob_link.get_attribute("href").rsplit("/", 1)[-1]
        blob_link.click()
        assert driver.find_element(By.ID, "blob-cid").text == cid
        assert "bytes match the CID" in driver.find_element(By.ID, "blob-verified").text
        assert attacker in driver.page_source
        driver.find_element(By.PARTIAL_LINK_TEXT, "0x").click()  # the author... then back
        driver.back()
        tx_hash = (
            driver.find_element(By.CSS_SELECTOR, "a[href^='/tx/']")
            .get_attribute("href")
            .rsplit("/", 1)[-1]
        )
        driver.get(f"{served}/")
        box = driver.find_element(By.NAME, "q")
        box.send_keys(tx_hash)
        driver.find_element(By.ID, "search-button").click()
        assert driver.find_element(By.ID, "tx-hash").text == tx_hash
        assert driver.find_element(By.ID, "tx-function").text == "submitUpdatesBySig"
    finally:
        driver.quit()


def test_rounds_show_accuracy_on_a_given_test_set(finished: dict[str, Any]) -> None:
    from starlette.testclient import TestClient

    from fedchain.learning import load_dataset

    digits = load_dataset("digits")
    app = create_app(finished["source"], test_data=(digits.x_test[:100], digits.y_test[:100]))
    with TestClient(app) as client:
        rounds = client.get(f"/api/task/{finished['task_id']}").json()["rounds"]
    assert [row["accuracy"] for row in rounds] == [
        row["accuracy"] for row in finished["result"].summary["rounds"]
    ]  # the simulation measured the same models on the same 100 test images
