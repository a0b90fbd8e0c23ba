"""The explorer's ASGI app: one HTML page and one JSON twin (``/api/...``) per view.

Views: the tasks (``/``), a task (``/task/{id}``: spec, escrow, rounds with committee, leader,
attestations, accepted and rejected clients with their Multi-KRUM scores and the audit's status
of each, reputation and payout charts), a participant (``/address/{a}``), a transaction
(``/tx/{hash}``: decoded call and events, gas, status), a blob (``/blob/{cid}``: kind, task,
round, author, verified against its CID, tensors; ``/blob/{cid}/raw`` downloads it) and search
(``/search?q=``: task id, tx hash, address or CID). A task's audit is computed on its first view
and kept until the task has new events.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from eth_utils import is_address
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from fedchain.audit import AuditError, AuditReport, audit_task
from fedchain.audit.findings import _jsonable
from fedchain.chain.abi import decode_call
from fedchain.explorer.charts import bar_chart, line_chart
from fedchain.explorer.index import ChainIndex
from fedchain.storage import StorageError, decode_model
from fedchain.storage.multiformats import parse_cid

__all__ = ["create_app"]

_TEMPLATES = Path(__file__).with_name("templates")


class _Explorer:
    def __init__(self, source: Any, test_data: tuple[Any, Any] | None = None) -> None:
        self.source = source
        self.test_data = test_data
        self._accuracy: dict[str, float | None] = {}
        self.index = ChainIndex(source)
        self.env = Environment(
            loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(default=True)
        )
        self._audits: dict[int, tuple[tuple[int, int], AuditReport]] = {}
        self._pages: dict[int, tuple[tuple[int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    # -- data -------------------------------------------------------------------------------

    def audit(self, task_id: int) -> AuditReport:
        self.index.refresh()
        key = self.index.task_key(task_id)
        with self._lock:
            cached = self._audits.get(task_id)
            if cached is None or cached[0] != key:
                self._audits[task_id] = (key, audit_task(self.source, task_id))
            return self._audits[task_id][1]

    def accuracy(self, report: AuditReport, cid: str) -> float | None:
        """The accuracy of a global model on the test set given (None without one, or when the
        blob is unusable); computed once per model."""
        if self.test_data is None:
            return None
        if cid not in self._accuracy:
            from fedchain.learning import evaluate
            from fedchain.roles.blobs import fetch_model, read_manifest
            from fedchain.storage import cid_to_digest

            spec = report.task["spec"]
            try:
                initial = fetch_model(self.source.store, bytes(spec["initialModel"]),
                                      int(spec["initialCodec"]))  # fmt: skip
                model_spec = read_manifest(initial).model
                digest, codec = cid_to_digest(cid)
                state = fetch_model(self.source.store, digest, codec, spec=model_spec).state
                x, y = self.test_data
                self._accuracy[cid] = round(float(evaluate(model_spec, state, x, y)), 4)
            except Exception:  # an unusable blob: the audit names it; no accuracy to show
                self._accuracy[cid] = None
        return self._accuracy[cid]

    def tasks(self) -> list[dict[str, Any]]:
        self.index.refresh()
        rows = []
        for t in self.index.task_ids():
            evs = self.index.by_task[t]
            created = next(e for e in evs if e.name == "TaskCreated")
            names = {e.name for e in evs}
            status = ("cancelled" if "TaskCancelled" in names else "finished"
                      if "TaskFinished" in names else "running" if "TaskStarted" in names
                      else "joining")  # fmt: skip
            rows.append({
                "task_id": t, "requester": str(created.args["requester"]), "status": status,
                "escrow_wei": int(created.args["escrow"]),
                "rounds": int(created.args["spec"]["rounds"]),
                "finalized": sum(1 for e in evs if e.name == "RoundFinalized"),
                "clients": sum(1 for e in evs if e.name == "ClientJoined"),
                "tx_hash": created.tx_hash,
            })  # fmt: skip
        return rows

    def task(self, task_id: int) -> dict[str, Any]:
        report = self.audit(task_id)
        key = self.index.task_key(task_id)
        with self._lock:
            cached = self._pages.get(task_id)
            if cached is not None and cached[0] == key:
                return cached[1]
        task = report.task
        clients = list(task.get("clients", []))
        rounds = []
        for row in report.rounds:
            r = row["round"]
            subs = []
            for s in row["submissions"]:
                i = s["index"]
                subs.append({
                    **s, "accepted": i in row["accepted"],
                    "score": row["scores"].get(i), "reason": row["reasons"].get(i, ""),
                    "audit": report.status_of(round=r, subject=s["client"]) or "ok",
                })  # fmt: skip
            accuracy = self.accuracy(report, row["global_model"])
            rounds.append({
                **row, "submissions": subs, "accuracy": accuracy,
                "audit": report.status_of(round=r) or "ok",
                "checks": {f.check: f.status for f in report.findings if f.round == r},
            })  # fmt: skip
        reputation = {c: task.get("reputation", {}).get(c, []) for c in clients}
        payouts = task.get("payouts", {})
        page = {
            "task_id": task_id, "task": task, "rounds": rounds, "ok": report.ok, "clients": clients,
            "exit_code": report.exit_code(), "checks": report.check_table(),
            "problems": [f.to_json() for f in report.findings if f.status != "ok"],
            "reputation_svg": line_chart(reputation, title="reputation after each round"),
            "payout_svg": bar_chart({a: int(p.get("payout", 0)) for a, p in payouts.items()},
                                    title="payout (wei)"),
            "money": {f.subject: f.status for f in report.findings if f.check.startswith("money")},
        }  # fmt: skip
        with self._lock:
            self._pages[task_id] = (key, page)
        return page

    def address(self, address: str) -> dict[str, Any]:
        self.index.refresh()
        evs = self.index.by_address.get(address.lower(), [])
        tasks = sorted({int(e.args["taskId"]) for e in evs if "taskId" in e.args})
        outcomes = [e for e in evs if e.name == "TaskOutcomeApplied"]
        history = [int(outcomes[0].args["previous"])] if outcomes else []
        history += [int(e.args["current"]) for e in outcomes]
        return {
            "address": address, "tasks": tasks,
            "events": [_event_json(e) for e in evs],
            "registrations": [_event_json(e) for e in evs if e.name == "ParticipantRegistered"],
            "profiles": [_event_json(e) for e in evs if e.name == "DataProfileAdded"],
            "reputation": [_event_json(e) for e in outcomes],
            "reputation_history": history,
            "joins": [_event_json(e) for e in evs
                      if e.name in ("ClientJoined", "MinerJoined", "MemberLeft")],
            "stakes": [_event_json(e) for e in evs if e.name == "MinerJoined"],
            "slashes": [_event_json(e) for e in evs if e.name in ("StakeSlashed", "StakeBurned")],
            "payouts": [_event_json(e) for e in evs
                        if e.name in ("ClientSettled", "MinerSettled", "RequesterRefunded")],
        }  # fmt: skip

    def transaction(self, tx_hash: str) -> dict[str, Any] | None:
        chain = self.source.chain
        tx = chain.w3.eth.get_transaction(tx_hash)
        if tx is None:
            return None
        receipt = chain.w3.eth.get_transaction_receipt(tx_hash)
        dep = self.source.deployment
        to = str(tx.get("to") or "")
        call, contract_name = None, None
        for name, contract in (("TaskManager", dep.tasks), ("ParticipantRegistry", dep.registry),
                               ("ModelRegistry", dep.models)):  # fmt: skip
            if to.lower() == contract.address.lower():
                contract_name = name
                call = decode_call(contract.abi, tx.get("input") or tx.get("data") or b"")
        self.index.refresh()
        status = int(receipt["status"]) if receipt is not None else None
        revert = None
        if status == 0:
            revert = ("not available: a recorded chain (a run directory's chain.json) has no "
                      "state to replay it on with eth_call"
                      if chain.kind == "recorded" else _revert_reason(chain, tx))  # fmt: skip
        return {
            "tx_hash": tx_hash, "from": str(tx["from"]), "to": to, "contract": contract_name,
            "value": int(tx["value"]),
            "block_number": int(tx["blockNumber"]), "status": status,
            "gas_used": int(receipt["gasUsed"]) if receipt is not None else None,
            "function": call[0] if call else None, "arguments": _jsonable(call[1]) if call else {},
            "events": [_event_json(e) for e in self.index.by_tx.get(tx_hash.lower(), [])],
            "revert_reason": revert,
        }  # fmt: skip

    def blob(self, cid: str) -> dict[str, Any]:
        self.index.refresh()
        info = self.index.blobs.get(cid)
        out: dict[str, Any] = {
            "cid": cid, "known": info is not None, "kind": info.kind if info else None,
            "also": list(info.also) if info else [],
            "task_id": info.task_id if info else None, "round": info.round if info else None,
            "author": info.author if info else None, "tx_hash": info.tx_hash if info else None,
            "verified": False, "size": None, "tensors": [], "error": None, "metadata": {},
        }  # fmt: skip
        try:
            data = self.source.store.get(cid)  # the store checks the bytes against the CID
        except StorageError as exc:
            out["error"] = str(exc)
            return out
        out["verified"], out["size"] = True, len(data)
        try:
            state, meta = decode_model(data)
            out["tensors"] = [{"name": k, "shape": list(v.shape), "dtype": str(v.dtype)}
                              for k, v in state.items()]  # fmt: skip
            out["metadata"] = {"task_id": meta.task_id, "round": meta.round,
                               "author": meta.author, "num_samples": meta.num_samples,
                               "kind": meta.kind, "model_spec": meta.model_spec}  # fmt: skip
        except StorageError as exc:
            out["error"] = f"not a model blob: {exc}"
        return out

    # -- rendering --------------------------------------------------------------------------

    def render(self, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code)


def _event_json(e: Any) -> dict[str, Any]:
    return {"name": e.name, "args": _jsonable(e.args), "tx_hash": e.tx_hash,
            "block_number": e.block_number, "log_index": e.log_index}  # fmt: skip


def _revert_reason(chain: Any, tx: Any) -> str:
    """Replay a failed transaction with ``eth_call`` on the state before its block and name the
    custom error it reverts with (as the sender's own :mod:`fedchain.chain.transact` does)."""
    from fedchain.chain.contract_errors import decode_revert
    from fedchain.chain.errors import ChainError

    call = {"from": tx["from"], "to": tx["to"], "value": int(tx["value"]), "gas": tx.get("gas"),
            "data": bytes(tx.get("input") or tx.get("data") or b"")}  # fmt: skip
    call = {k: v for k, v in call.items() if v is not None}
    try:
        data = chain._revert_data(call, max(int(tx["blockNumber"]) - 1, 0))
    except ChainError as exc:
        return f"the node could not replay it: {exc}"
    if data is None:
        return ("it does not revert when replayed on the state before its block (another "
                "transaction of the block changed the state, or it ran out of gas)")  # fmt: skip
    if not data:
        return "it reverts without a reason (no revert data)"
    return str(decode_revert(data))


def create_app(source: Any, *, test_data: tuple[Any, Any] | None = None) -> Starlette:
    """The explorer over ``source`` (an :class:`~fedchain.audit.AuditSource`); with
    ``test_data`` (``(x, y)`` arrays) every round shows its global model's accuracy."""
    ex = _Explorer(source, test_data)

    async def home(request: Request) -> Response:
        return ex.render("tasks.html", tasks=ex.tasks(), where=source.where, head=ex.index.head)

    async def api_tasks(request: Request) -> Response:
        return JSONResponse({"tasks": ex.tasks(), "head": ex.index.head})

    def _task_or_404(request: Request) -> tuple[int, dict[str, Any] | None]:
        task_id = int(request.path_params["task_id"])
        try:
            return task_id, ex.task(task_id)
        except AuditError:
            return task_id, None

    async def task(request: Request) -> Response:
        task_id, page = _task_or_404(request)
        if page is None:
            return ex.render("missing.html", what=f"task {task_id}", status_code=404)
        return ex.render("task.html", p=page)

    async def api_task(request: Request) -> Response:
        task_id, page = _task_or_404(request)
        if page is None:
            return JSONResponse({"error": f"no task {task_id}"}, status_code=404)
        return JSONResponse(_jsonable({k: v for k, v in page.items() if not k.endswith("_svg")}))

    async def address(request: Request) -> Response:
        if not is_address(request.path_params["address"]):
            return ex.render("missing.html", what="such address", status_code=404)
        a = ex.address(request.path_params["address"])
        chart = line_chart({a["address"]: a["reputation_history"]}, x_label="outcome",
                           title="reputation before and after each task")  # fmt: skip
        return ex.render("address.html", a=a, reputation_svg=chart)

    async def api_address(request: Request) -> Response:
        if not is_address(request.path_params["address"]):
            return JSONResponse({"error": "not an address"}, status_code=404)
        return JSONResponse(ex.address(request.path_params["address"]))

    def _tx(request: Request) -> dict[str, Any] | None:
        try:
            return ex.transaction(request.path_params["tx_hash"])
        except Exception:  # web3 raises TransactionNotFound (or a recording returns None)
            return None

    async def tx(request: Request) -> Response:
        data = _tx(request)
        if data is None:
            return ex.render("missing.html", what="that transaction", status_code=404)
        return ex.render("tx.html", t=data)

    async def api_tx(request: Request) -> Response:
        data = _tx(request)
        if data is None:
            return JSONResponse({"error": "no such transaction"}, status_code=404)
        return JSONResponse(data)

    def _blob(request: Request) -> dict[str, Any] | None:
        """The blob page's data; None for no CID, or one neither the chain nor the store has."""
        cid = request.path_params["cid"]
        try:
            parse_cid(cid)
        except (StorageError, ValueError):
            return None
        data = ex.blob(cid)
        return data if data["known"] or data["verified"] else None

    async def blob(request: Request) -> Response:
        data = _blob(request)
        if data is None:
            return ex.render("missing.html", what="such blob", status_code=404)
        return ex.render("blob.html", b=data)

    async def api_blob(request: Request) -> Response:
        data = _blob(request)
        if data is None:
            return JSONResponse({"error": "no such blob"}, status_code=404)
        return JSONResponse(data)

    async def blob_raw(request: Request) -> Response:
        cid = request.path_params["cid"]
        try:
            data = source.store.get(cid)
        except StorageError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        disposition = f'attachment; filename="{cid}"'
        return Response(
            data, media_type="application/octet-stream",
            headers={"content-disposition": disposition},
        )  # fmt: skip

    async def search(request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        target = _search_target(ex, q)
        if target is None:
            return ex.render("missing.html", what=f"anything matching {q!r}", status_code=404)
        return RedirectResponse(target, status_code=303)

    routes = [
        Route("/", home), Route("/api/tasks", api_tasks),
        Route("/task/{task_id:int}", task), Route("/api/task/{task_id:int}", api_task),
        Route("/address/{address}", address), Route("/api/address/{address}", api_address),
        Route("/tx/{tx_hash}", tx), Route("/api/tx/{tx_hash}", api_tx),
        Route("/blob/{cid}", blob), Route("/api/blob/{cid}", api_blob),
        Route("/blob/{cid}/raw", blob_raw), Route("/search", search),
    ]  # fmt: skip
    app = Starlette(routes=routes)
    app.state.explorer = ex
    return app


def _search_target(ex: _Explorer, q: str) -> str | None:
    if q.isdigit():
        return f"/task/{int(q)}"
    if q.startswith("0x") and len(q) == 66:
        return f"/tx/{q}"
    if q.startswith("0x") and len(q) == 42:
        return f"/address/{q}"
    try:
        parse_cid(q)
    except (StorageError, ValueError):
        return None
    return f"/blob/{q}"
