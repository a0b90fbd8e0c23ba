"""A chain written to a file, and read back as a read-only JSON-RPC node.

The embedded chain (py-evm in the demo's process) is gone when the demo ends. So that anyone
can audit or browse a demo's task afterwards, :func:`record_chain` writes what a node would
answer about it into the run directory (``chain.json``): every block with its transactions and
every receipt with its logs, in the standard JSON-RPC encoding. :class:`RecordedProvider`
answers ``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``/``ByHash``,
``eth_getTransactionByHash``, ``eth_getTransactionReceipt`` and ``eth_getLogs`` from it, so the
audit and the explorer read a recording through the same web3 calls as a live node. State
reads (``eth_call``, balances) are not recorded: the audit works from events alone, and says
which checks need a live node.

A recording is the demo's own output, like its ``result.json``: trusted as far as the demo is.
An auditor who does not trust the demo runs it against a node that outlives it (``fedchain
demo --rpc-url``) and audits the node instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.providers.base import BaseProvider
from web3.types import RPCEndpoint, RPCResponse

from fedchain.errors import FedChainError

__all__ = ["RECORDING_FILE", "RecordedProvider", "RecordingError", "record_chain"]

#: The recording's file name inside a run directory.
RECORDING_FILE = "chain.json"
_FORMAT = "fedchain-chain-recording/1"


class RecordingError(FedChainError):
    """A recording that cannot be read, or a question it cannot answer."""


def _rpc_form(value: Any) -> Any:
    """A web3-formatted value back in JSON-RPC's encoding (quantities and bytes as 0x-hex)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _rpc_form(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_rpc_form(v) for v in value]
    return str(value)


def record_chain(w3: Web3, path: str | os.PathLike[str], *, from_block: int = 0) -> Path:
    """Write blocks ``from_block``..latest of ``w3``'s chain, with transactions and receipts.

    Returns the path written (atomically: a reader never sees half a file).
    """
    eth: Any = w3.eth
    latest = int(eth.block_number)
    blocks, receipts = [], {}
    for number in range(from_block, latest + 1):
        block = dict(eth.get_block(number, full_transactions=False))
        txs = []
        for tx_hash in block["transactions"]:
            tx = dict(eth.get_transaction(tx_hash))
            if "input" not in tx and "data" in tx:  # py-evm's name for the call data
                tx["input"] = tx.pop("data")
            txs.append(_rpc_form(tx))
            receipts["0x" + bytes(tx_hash).hex()] = _rpc_form(eth.get_transaction_receipt(tx_hash))
        blocks.append({**_rpc_form(block), "transactions": txs})
    data = {"format": _FORMAT, "chain_id": int(eth.chain_id), "from_block": from_block,
            "blocks": blocks, "receipts": receipts}  # fmt: skip
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, target)
    return target


def _quantity(value: Any, latest: int) -> int:
    if value in (None, "latest", "pending", "safe", "finalized"):
        return latest
    if value == "earliest":
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)


def _topic_matches(wanted: Any, have: str | None) -> bool:
    if wanted is None:
        return True
    if have is None:
        return False
    options = wanted if isinstance(wanted, list) else [wanted]
    return any(o is None or str(o).lower() == have.lower() for o in options)


class RecordedProvider(BaseProvider):
    """A read-only web3 provider over a :func:`record_chain` file.

    Raises:
        RecordingError: the file is missing or not a recording.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RecordingError(f"{self.path} does not exist") from None
        except (OSError, ValueError) as exc:
            raise RecordingError(f"{self.path} is not a chain recording: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise RecordingError(f"{self.path} is not a {_FORMAT} file")
        self.chain_id = int(data["chain_id"])
        self._blocks: dict[int, dict[str, Any]] = {int(b["number"], 16): b for b in data["blocks"]}
        self._by_hash = {b["hash"].lower(): b for b in self._blocks.values()}
        self._receipts: dict[str, dict[str, Any]] = {
            k.lower(): v for k, v in data["receipts"].items()
        }
        self._txs = {
            str(tx["hash"]).lower(): tx for b in self._blocks.values() for tx in b["transactions"]
        }
        self.latest = max(self._blocks) if self._blocks else 0

    def is_connected(self, show_traceback: bool = False) -> bool:
        """Always: the file was read."""
        return True

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Answer one JSON-RPC call from the recording."""
        handler = {
            "eth_chainId": lambda p: hex(self.chain_id),
            "net_version": lambda p: str(self.chain_id),
            "eth_blockNumber": lambda p: hex(self.latest),
            "eth_getBlockByNumber": self._block_by_number,
            "eth_getBlockByHash": lambda p: self._shape(self._by_hash.get(str(p[0]).lower()), p),
            "eth_getTransactionByHash": lambda p: self._txs.get(str(p[0]).lower()),
            "eth_getTransactionReceipt": lambda p: self._receipts.get(str(p[0]).lower()),
            "eth_getLogs": lambda p: self._logs(p[0] if p else {}),
        }.get(str(method))
        if handler is None:
            return {"jsonrpc": "2.0", "id": 0, "error": {
                "code": -32601,
                "message": f"{method} is not in a chain recording (it holds blocks, "
                "transactions, receipts and logs; state reads need a live node)",
            }}  # fmt: skip
        return {"jsonrpc": "2.0", "id": 0, "result": handler(params)}

    def _block_by_number(self, params: Any) -> Any:
        number = _quantity(params[0], self.latest)
        return self._shape(self._blocks.get(number), params)

    @staticmethod
    def _shape(block: dict[str, Any] | None, params: Any) -> Any:
        if block is None or (len(params) > 1 and params[1]):
            return block
        return {**block, "transactions": [tx["hash"] for tx in block["transactions"]]}

    def _logs(self, query: Mapping[str, Any]) -> list[dict[str, Any]]:
        if query.get("blockHash"):
            block = self._by_hash.get(str(query["blockHash"]).lower())
            numbers = [int(block["number"], 16)] if block else []
        else:
            start = _quantity(query.get("fromBlock", "earliest"), self.latest)
            end = _quantity(query.get("toBlock", "latest"), self.latest)
            numbers = [n for n in range(start, end + 1) if n in self._blocks]
        address = query.get("address")
        addresses = None
        if address is not None:
            addresses = {a.lower() for a in (address if isinstance(address, list) else [address])}
        topics = list(query.get("topics") or [])
        out = []
        for n in numbers:
            for tx in self._blocks[n]["transactions"]:
                receipt = self._receipts.get(str(tx["hash"]).lower()) or {}
                for log in receipt.get("logs", []):
                    if addresses is not None and str(log["address"]).lower() not in addresses:
                        continue
                    have = list(log.get("topics", []))
                    if all(
                        _topic_matches(w, have[i] if i < len(have) else None)
                        for i, w in enumerate(topics)
                    ):
                        out.append(log)
        return out
