"""The explorer's pages and their JSON twins, through Starlette's test client, over a real
finished task (``conftest.finished``) and a bare deployment with a failed transaction."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from fedchain.audit import AuditSource
from fedchain.explorer import create_app

# Starlette's test client warns that it will move from httpx to httpx2 (not installed here).
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

# One xdist worker runs the modules that share the simulated task (conftest.finished).
pytestmark = pytest.mark.xdist_group("explorer")


def test_api_and_pages(finished: dict[str, Any]) -> None:
    task_id, attacker = finished["task_id"], finished["attacker"]
    with TestClient(create_app(finished["source"])) as client:
        tasks = client.get("/api/tasks").json()["tasks"]
        assert [t["task_id"] for t in tasks] == [task_id] and tasks[0]["status"] == "finished"
        assert f'href="/task/{task_id}"' in client.get("/").text
        page = client.get(f"/api/task/{task_id}").json()
        assert page["ok"] is True and page["exit_code"] == 0
        for row in page["rounds"]:
            verdicts = {s["client"]: s for s in row["submissions"]}
            assert verdicts[attacker]["accepted"] is False
            assert "outlier" in verdicts[attacker]["reason"]
            assert verdicts[attacker]["score"] is not None
            assert all(s["audit"] == "ok" for s in row["submissions"])
        html = client.get(f"/task/{task_id}").text
        assert 'class="rejected"' in html and attacker in html and "<svg" in html
        update = page["rounds"][0]["submissions"][0]
        blob = client.get(f"/api/blob/{update['cid']}").json()
        assert blob["verified"] is True and blob["kind"] == "update"
        assert blob["author"].lower() == update["client"].lower() and blob["tensors"]
        assert "bytes match the CID" in client.get(f"/blob/{update['cid']}").text
        assert client.get(f"/blob/{update['cid']}/raw").content[:8]  # the bytes download
        tx = client.get(f"/api/tx/{update['tx_hash']}").json()
        assert tx["function"] == "submitUpdatesBySig" and tx["status"] == 1
        assert tx["contract"] == "TaskManager" and tx["gas_used"] > 0
        assert tx["revert_reason"] is None
        assert any(e["name"] == "UpdateSubmitted" for e in tx["events"])
        assert "submitUpdatesBySig" in client.get(f"/tx/{update['tx_hash']}").text
        who = client.get(f"/api/address/{attacker}").json()
        assert task_id in who["tasks"] and who["payouts"] and who["reputation"]
        assert who["registrations"] and who["profiles"] and who["joins"]
        assert len(who["reputation_history"]) == len(who["reputation"]) + 1
        assert attacker in client.get(f"/address/{attacker}").text


def test_search_redirects_to_the_page(finished: dict[str, Any]) -> None:
    task_id = finished["task_id"]
    with TestClient(create_app(finished["source"])) as client:
        page = client.get(f"/api/task/{task_id}").json()
        update = page["rounds"][0]["submissions"][0]
        for q, where in (
            (str(task_id), f"/task/{task_id}"),
            (update["tx_hash"], f"/tx/{update['tx_hash']}"),
            (update["client"], f"/address/{update['client']}"),
            (update["cid"], f"/blob/{update['cid']}"),
            (f"  {update['cid']} ", f"/blob/{update['cid']}"),
        ):
            found = client.get("/search", params={"q": q}, follow_redirects=False)
            assert found.status_code == 303 and found.headers["location"] == where, q
        assert client.get("/search?q=not-a-thing").status_code == 404
        assert client.get("/task/999").status_code == 404
        assert client.get("/api/task/999").status_code == 404
        assert client.get("/api/tx/0x" + "00" * 32).status_code == 404
        assert client.get("/tx/0x" + "00" * 32).status_code == 404
        assert client.get("/blob/not-a-cid").status_code == 404
        unknown = update["cid"][:-4] + ("aaaa" if not update["cid"].endswith("aaaa") else "bbbb")
        assert client.get(f"/api/blob/{unknown}").status_code == 404
        assert client.get("/address/not-an-address").status_code == 404
        assert client.get("/api/address/0x" + "00" * 20).json()["tasks"] == []


def test_every_blob_the_chain_names_is_indexed(finished: dict[str, Any]) -> None:
    app = create_app(finished["source"])
    index = app.state.explorer.index
    index.refresh(force=True)
    kinds = {k for b in index.blobs.values() for k in (b.kind, *b.also)}
    assert {"initial", "update", "global", "final"} <= kinds
    rounds = finished["result"].summary["rounds"]
    assert sum(b.kind == "update" for b in index.blobs.values()) >= 4 * len(rounds)
    with TestClient(app) as client:
        for info in index.blobs.values():
            blob = client.get(f"/api/blob/{info.cid}").json()
            assert blob["verified"] is True, (info, blob["error"])


def test_a_task_page_is_served_from_its_cache(finished: dict[str, Any]) -> None:
    task_id = finished["task_id"]
    with TestClient(create_app(finished["source"])) as client:
        first = client.get(f"/task/{task_id}").text
        started = time.perf_counter()
        again = client.get(f"/task/{task_id}").text
        assert time.perf_counter() - started < 0.2 and again == first


def test_rounds_show_accuracy_on_a_given_test_set(finished: dict[str, Any]) -> None:
    from fedchain.learning import load_dataset

    digits = load_dataset("digits")
    app = create_app(finished["source"], test_data=(digits.x_test[:100], digits.y_test[:100]))
    with TestClient(app) as client:
        rounds = client.get(f"/api/task/{finished['task_id']}").json()["rounds"]
        assert "accuracy" in client.get(f"/task/{finished['task_id']}").text
    assert [row["accuracy"] for row in rounds] == [
        row["accuracy"] for row in finished["result"].summary["rounds"]
    ]  # the simulation measured the same models on the same 100 test images


def _failed_withdraw(source: AuditSource) -> str:
    """Mine a ``withdraw`` of 1 ETH from an account with no balance: it reverts."""
    chain, account = source.chain, source.chain.dev_accounts()[1]
    tasks = chain.w3.eth.contract(address=source.deployment.tasks.address,
                                  abi=source.deployment.tasks.abi)  # fmt: skip
    tx = {"from": account.address, "to": tasks.address, "value": 0, "gas": 200_000,
          "data": tasks.encode_abi("withdraw", [10**18]), "chainId": chain.chain_id,
          "nonce": chain.w3.eth.get_transaction_count(account.address),
          "gasPrice": chain.w3.eth.gas_price}  # fmt: skip
    tx_hash = chain.w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
    assert chain.w3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    return "0x" + bytes(tx_hash).hex()


def test_a_failed_transaction_names_its_custom_error(deployed: AuditSource) -> None:
    tx_hash = _failed_withdraw(deployed)
    with TestClient(create_app(deployed)) as client:
        tx = client.get(f"/api/tx/{tx_hash}").json()
        assert tx["status"] == 0 and tx["function"] == "withdraw"
        assert tx["arguments"] == {"amount": 10**18} or list(tx["arguments"].values()) == [10**18]
        assert tx["revert_reason"].startswith("TaskManagerInsufficientBalance(")
        assert "required=1000000000000000000" in tx["revert_reason"]
        html = client.get(f"/tx/{tx_hash}").text
        assert "reverted" in html and "TaskManagerInsufficientBalance" in html
        assert client.get("/api/tasks").json()["tasks"] == []
        assert "no task yet" in client.get("/").text


def test_a_recorded_chain_says_it_cannot_replay(
    deployed: AuditSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    tx_hash = _failed_withdraw(deployed)
    monkeypatch.setattr(deployed.chain, "kind", "recorded")
    with TestClient(create_app(deployed)) as client:
        reason = client.get(f"/api/tx/{tx_hash}").json()["revert_reason"]
    assert "recorded chain" in reason and "eth_call" in reason
