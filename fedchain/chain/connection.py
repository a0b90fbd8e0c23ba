"""Connecting to a chain: ``connect("embedded" | "anvil" | "<http(s) URL>")`` -> :class:`Chain`."""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound
from web3.types import RPCEndpoint, RPCResponse

from fedchain.chain.anvil import DEFAULT_MNEMONIC, AnvilNode
from fedchain.chain.artifacts import Artifact, load_artifact, register_artifact
from fedchain.chain.contract import BoundContract
from fedchain.chain.errors import (
    ArtifactError,
    ChainConfigError,
    ChainConnectionError,
    ChainError,
    NodeUnreachableError,
    TransactionError,
    UnsupportedOperationError,
)
from fedchain.chain.gas import GasMeter
from fedchain.chain.transact import BlockId, Transactor, TxResult, provider_error, to_address
from fedchain.urls import redact_url

__all__ = ["Chain", "NodeProvider", "connect", "derive_accounts"]

Account.enable_unaudited_hdwallet_features()

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def _transport_reason(exc: BaseException) -> str:
    """A short reason for a transport failure (``Connection refused``, ``read timed out``)."""
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} {exc.response.reason or ''}".strip()
    if isinstance(exc, requests.Timeout):
        return "timed out"
    found = _ERRNO.search(str(exc))
    if found:
        return found.group(1).strip()
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


class NodeProvider(HTTPProvider):
    """web3's HTTP provider whose transport failures, whichever call meets them (views, logs,
    ``eth_blockNumber``, sends, receipts), raise :class:`NodeUnreachableError` instead of a raw
    ``requests`` exception. The message names the node's URL without credentials."""

    def _unreachable(self, exc: BaseException, method: str) -> NodeUnreachableError:
        shown = redact_url(str(self.endpoint_uri))
        return NodeUnreachableError(
            f"node unreachable ({shown}): {_transport_reason(exc)} during {method}",
            url=shown, method=method,
        )  # fmt: skip

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """As :class:`HTTPProvider`'s, with transport failures as :class:`NodeUnreachableError`."""
        try:
            return super().make_request(method, params)
        except (requests.RequestException, OSError) as exc:
            raise self._unreachable(exc, str(method)) from None

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        """As :class:`HTTPProvider`'s, with transport failures as :class:`NodeUnreachableError`."""
        try:
            return super().make_batch_request(batch_requests)
        except (requests.RequestException, OSError) as exc:
            raise self._unreachable(exc, "a batch request") from None


def derive_accounts(mnemonic: str, n: int) -> list[LocalAccount]:
    """The first ``n`` BIP-44 accounts ``m/44'/60'/0'/0/i`` of ``mnemonic`` (as Anvil derives)."""
    return [Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(n)]


class Chain:
    """A connection to one chain, with funded accounts, transactions, time travel and gas records.

    Build it with :func:`connect`. Attributes:

    - ``w3``: the :class:`web3.Web3` instance.
    - ``kind``: ``"embedded"``, ``"anvil"`` or ``"rpc"``.
    - ``chain_id``: the chain id.
    - ``gas``: a :class:`~fedchain.chain.gas.GasMeter` recording every transaction.
    - ``node``: the :class:`~fedchain.chain.anvil.AnvilNode` when this chain started one.
    """

    def __init__(
        self,
        w3: Web3,
        *,
        kind: str,
        accounts: Sequence[LocalAccount] = (),
        node: AnvilNode | None = None,
        url: str | None = None,
        embedded: Any = None,
        poll_latency: float = 0.05,
        receipt_timeout: float = 120.0,
        gas_headroom: float = 1.25,
    ) -> None:
        self.w3 = w3
        # Transactions are signed here and sent raw, addresses are hex: web3's ENS lookup,
        # gas-price strategy, buffered estimate and validation middleware only add round trips
        # (validation asks eth_chainId on every call and rejects PoA blocks' long extraData).
        for name in ("ens_name_to_address", "gas_price_strategy", "gas_estimate", "validation"):
            with contextlib.suppress(ValueError, KeyError):
                w3.middleware_onion.remove(name)
        self.kind = kind
        self.node = node
        self.url = url
        self.gas = GasMeter()
        self._accounts = list(accounts)
        self._embedded = embedded  # (EthereumTester, EmbeddedBackend) for the embedded chain
        self._closed = False
        self._lock = threading.Lock()
        self.transactor = Transactor(
            self, gas_headroom=gas_headroom, receipt_timeout=receipt_timeout,
            poll_latency=poll_latency,
        )  # fmt: skip
        try:
            self.chain_id: int = int(w3.eth.chain_id)
            self._gas_limit = int(w3.eth.get_block("latest")["gasLimit"])
        except Exception as exc:
            translated = provider_error(exc, what=f"connecting to {url or kind}")
            raise (translated or ChainConnectionError(
                f"{url or kind} did not answer eth_chainId: {exc}"
            )) from None  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the connection and stop a node this chain started (by PID). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.node is not None:
            self.node.stop()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> Chain:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" {self.url}" if self.url else ""
        return f"<Chain {self.kind}{where} chain_id={self.chain_id}>"

    # -- accounts ----------------------------------------------------------------------------

    def dev_accounts(self, n: int | None = None) -> list[LocalAccount]:
        """Pre-funded accounts with their private keys (the first ``n``, or all)."""
        if n is not None and n > len(self._accounts):
            raise ChainError(
                f"{n} development accounts requested, {self.kind} chain has {len(self._accounts)}"
                " (pass accounts= to connect())"
            )
        return list(self._accounts[:n] if n is not None else self._accounts)

    def new_account(self, *, fund_wei: int = 0) -> LocalAccount:
        """A fresh random account (key from ``secrets``), optionally funded from a dev account."""
        account = Account.from_key(secrets.token_bytes(32))
        if fund_wei:
            self.fund(account.address, fund_wei)
        return account

    def fund(self, address: Any, value_wei: int, *, sender: LocalAccount | None = None) -> TxResult:
        """Send ``value_wei`` to ``address`` from ``sender`` (default: the first dev account)."""
        if sender is None:
            if not self._accounts:
                raise ChainError("no funded development account to pay from; pass sender=")
            sender = self._accounts[0]
        return self.transactor.send(
            sender=sender, to=to_address(address), value=value_wei, label="ETH.transfer"
        )

    def balance(self, address: Any, *, block: BlockId = "latest") -> int:
        """Ether balance in wei."""
        eth: Any = self.w3.eth
        return int(eth.get_balance(to_address(address), block))

    # -- blocks and time ---------------------------------------------------------------------

    def block_number(self) -> int:
        """The latest block number."""
        return int(self.w3.eth.block_number)

    def block_hash(self, number: int) -> bytes | None:
        """The hash of block ``number``, or None when the chain has no such block (yet, or any
        more: a node restarted from an older state)."""
        try:
            block = self.w3.eth.get_block(number)
        except BlockNotFound:
            return None
        return bytes(block["hash"])

    def timestamp(self) -> int:
        """The latest block's timestamp (seconds)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def block_gas_limit(self) -> int:
        """The block gas limit."""
        return self._gas_limit

    def _dev_only(self, what: str) -> None:
        if self.kind == "rpc":
            raise UnsupportedOperationError(
                f"{what} needs a development chain (embedded or anvil), not an RPC node"
            )

    def _rpc(self, method: str, params: list[Any]) -> Any:
        response = self.w3.provider.make_request(RPCEndpoint(method), params)
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response.get("result")

    def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` empty blocks."""
        self._dev_only("mining blocks")
        if self._embedded is not None:
            self._embedded[0].mine_blocks(blocks)
        else:
            self._rpc("anvil_mine", [hex(blocks)])

    def increase_time(self, seconds: int) -> int:
        """Move time forward by ``seconds`` and mine a block with that timestamp; returns it."""
        self._dev_only("time travel")
        if seconds < 0:
            raise ChainError("time only moves forward")
        target = self.timestamp() + int(seconds)
        if self._embedded is not None:  # eth-tester mines the block at (argument - 1)
            self._embedded[0].time_travel(target + 1)
        else:
            self._rpc("evm_mine", [target])
        return self.timestamp()

    def snapshot(self) -> Any:
        """Take a snapshot of the chain state (embedded and anvil); see :meth:`revert`."""
        self._dev_only("snapshots")
        if self._embedded is not None:
            return self._embedded[0].take_snapshot()
        return self._rpc("evm_snapshot", [])

    def revert(self, snapshot_id: Any) -> None:
        """Return the chain to a snapshot (each snapshot can be reverted to once on Anvil)."""
        self._dev_only("snapshots")
        if self._embedded is not None:
            self._embedded[0].revert_to_snapshot(snapshot_id)
        elif not self._rpc("evm_revert", [snapshot_id]):
            raise ChainError(f"unknown snapshot {snapshot_id!r}")
        self.transactor.reset_nonces()

    # -- contracts ---------------------------------------------------------------------------

    def _binding(self, name: str, binding: type[BoundContract] | None) -> type[BoundContract]:
        if binding is not None:
            return binding
        try:
            from fedchain.chain.bindings import BINDINGS
        except ImportError:  # pragma: no cover - bindings.py is generated and committed
            return BoundContract
        return BINDINGS.get(name, BoundContract)

    def _artifact(self, contract: str | Artifact) -> Artifact:
        if isinstance(contract, Artifact):
            return register_artifact(contract)  # so its errors and events decode
        return load_artifact(contract)

    def deploy(
        self,
        contract: str | Artifact,
        *args: Any,
        sender: LocalAccount,
        value: int = 0,
        gas: int | None = None,
        binding: type[BoundContract] | None = None,
    ) -> BoundContract:
        """Deploy ``contract`` (an artifact name or :class:`Artifact`) with constructor ``args``.

        Returns the generated typed binding for it (or a generic :class:`BoundContract`); the
        deployment's :class:`TxResult` is ``contract.deployment``.
        """
        artifact = self._artifact(contract)
        if not artifact.deployable:
            raise ArtifactError(f"{artifact.name} has no bytecode (an interface or abstract?)")
        if "__$" in artifact.bytecode:
            raise ArtifactError(f"{artifact.name} needs library linking, which is not supported")
        from fedchain.chain import abi as abi_utils

        ctor: dict[str, Any] = next(
            (e for e in artifact.abi if e.get("type") == "constructor"), {"inputs": []}
        )
        data = bytes.fromhex(artifact.bytecode[2:]) + abi_utils.encode_values(
            ctor.get("inputs", []), args
        )
        result = self.transactor.send(
            sender=sender, to=None, data=data, value=value, gas=gas,
            label=f"{artifact.name}.constructor",
        )  # fmt: skip
        if result.contract_address is None:
            raise TransactionError(
                f"deploying {artifact.name}: the receipt has no contract address"
            )
        bound = self._binding(artifact.name, binding)(self, result.contract_address, artifact)
        bound.deployment = result  # type: ignore[attr-defined]
        return bound

    def at(
        self, contract: str | Artifact, address: Any, *, binding: type[BoundContract] | None = None
    ) -> BoundContract:
        """Bind the contract ``contract`` (name or :class:`Artifact`) at ``address``."""
        artifact = self._artifact(contract)
        address = to_address(address)
        if self.kind in ("embedded", "anvil") and len(self.w3.eth.get_code(address)) == 0:
            raise ChainError(f"no contract code at {address} on this {self.kind} chain")
        return self._binding(artifact.name, binding)(self, address, artifact)

    def send(
        self,
        *,
        sender: LocalAccount,
        to: Any,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        label: str = "",
    ) -> TxResult:
        """Send a raw transaction (signed locally); see :meth:`Transactor.send`."""
        return self.transactor.send(
            sender=sender, to=to_address(to) if to is not None else None, data=data,
            value=value, gas=gas, label=label,
        )  # fmt: skip

    # -- logs --------------------------------------------------------------------------------

    def get_logs(
        self,
        *,
        address: Any = None,
        topics: Sequence[Any] | None = None,
        from_block: BlockId = 0,
        to_block: BlockId = "latest",
    ) -> list[Mapping[str, Any]]:
        """Raw ``eth_getLogs`` (decode with :func:`fedchain.chain.events.decode_logs`);
        ``address`` is one contract or a list of them."""
        params: dict[str, Any] = {"fromBlock": from_block, "toBlock": to_block}
        if isinstance(address, list | tuple):
            params["address"] = [to_address(a) for a in address]
        elif address is not None:
            params["address"] = to_address(address)
        if topics:
            params["topics"] = list(topics)
        try:
            return list(self.w3.eth.get_logs(params))  # type: ignore[arg-type]
        except Exception as exc:
            raise (provider_error(exc, what="reading logs")
                   or ChainError(f"eth_getLogs failed: {exc}")) from None  # fmt: skip

    def events(
        self, *, from_block: BlockId = 0, to_block: BlockId = "latest", address: Any = None
    ) -> list[Any]:
        """Every log in the range decoded against all known ABIs, in chain order."""
        from fedchain.chain.events import decode_logs

        return decode_logs(self.get_logs(address=address, from_block=from_block, to_block=to_block))

    # -- revert data -------------------------------------------------------------------------

    def _revert_data(self, tx: Mapping[str, Any], block: BlockId) -> bytes | None:
        """Replay ``tx`` with ``eth_call`` at ``block``: its revert data, or None if it succeeds."""
        call = {k: v for k, v in tx.items() if k in ("from", "to", "value", "data", "gas")}
        if self._embedded is not None:
            tester, backend = self._embedded
            from eth_tester.exceptions import TransactionFailed

            call.setdefault("from", self._accounts[0].address if self._accounts else None)
            call = {k: v for k, v in call.items() if v is not None}
            if isinstance(call.get("data"), bytes):
                call["data"] = "0x" + call["data"].hex()
            try:
                tester.call(call, block)
            except TransactionFailed:
                return backend.last_revert_data if backend.last_revert_data is not None else b""
            except Exception:
                return b""
            return None
        encoded: dict[str, Any] = {}
        for key, value in call.items():
            if isinstance(value, bytes):
                encoded[key] = "0x" + value.hex()
            elif isinstance(value, int):
                encoded[key] = hex(value)
            else:
                encoded[key] = value
        block_param = hex(block) if isinstance(block, int) else block
        try:
            response = self.w3.provider.make_request(
                RPCEndpoint("eth_call"), [encoded, block_param]
            )
        except Exception as exc:
            raise (provider_error(exc, what="replaying a reverted call")
                   or ChainError(f"eth_call replay failed: {exc}")) from None  # fmt: skip
        error = response.get("error")
        if not error:
            return None
        return _error_data(error)


def _error_data(error: Any) -> bytes:
    """Revert data from a JSON-RPC error object (geth/anvil: ``data``; some nodes nest it)."""
    data = error.get("data") if isinstance(error, Mapping) else None
    while isinstance(data, Mapping):
        data = data.get("data") or data.get("result")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    return b""


def connect(
    target: str = "embedded",
    *,
    accounts: int = 10,
    private_keys: Sequence[str | bytes] = (),
    mnemonic: str | None = None,
    anvil_options: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
    poll_latency: float | None = None,
    receipt_timeout: float = 120.0,
    seed: int | None = None,
) -> Chain:
    """Connect to a chain.

    Args:
        target: ``"embedded"`` (py-evm in-process), ``"anvil"`` (start a local Anvil, stopped by
            :meth:`Chain.close`), or an ``http(s)://`` JSON-RPC URL.
        accounts: number of funded development accounts (embedded and anvil).
        private_keys: keys of the accounts to use on an RPC node (never printed).
        mnemonic: derive ``accounts`` accounts from it (RPC nodes such as a Hardhat node; Anvil's
            own mnemonic when ``target="anvil"``).
        anvil_options: further :class:`AnvilNode` keyword arguments (chain_id, block_time...).
        timeout: HTTP request timeout in seconds.
        poll_latency: receipt polling interval (default 0.01 s embedded, 0.05 s otherwise).
        receipt_timeout: seconds to wait for a receipt.
        seed: embedded only: make the chain reproducible (``block.prevrandao`` from the seed,
            fixed genesis time, one second per block).

    Raises:
        ChainConnectionError: the node cannot be reached or is not a JSON-RPC node.
        AnvilError: Anvil is missing or failed to start.
        ChainConfigError: an unknown target.
    """
    if target == "embedded":
        from fedchain.chain.embedded import create_embedded

        w3, tester, backend, keys = create_embedded(accounts=accounts, seed=seed)
        return Chain(
            w3, kind="embedded", accounts=keys, embedded=(tester, backend),
            poll_latency=poll_latency or 0.01, receipt_timeout=receipt_timeout,
        )  # fmt: skip
    if seed is not None:
        raise ChainConfigError("seed= applies to the embedded chain only")
    if target == "anvil":
        options = dict(anvil_options or {})
        options.setdefault("accounts", accounts)
        options.setdefault("mnemonic", mnemonic or DEFAULT_MNEMONIC)
        node = AnvilNode(**options).start()
        try:
            w3 = Web3(NodeProvider(node.url, request_kwargs={"timeout": timeout}))
            keys = derive_accounts(node.mnemonic, node.accounts)
            return Chain(
                w3, kind="anvil", accounts=keys, node=node, url=node.url,
                poll_latency=poll_latency or 0.05, receipt_timeout=receipt_timeout,
            )  # fmt: skip
        except BaseException:
            node.stop()
            raise
    if target.startswith(("http://", "https://")):
        keys = [Account.from_key(k) for k in private_keys]
        if mnemonic:
            keys += derive_accounts(mnemonic, accounts)
        w3 = Web3(NodeProvider(target, request_kwargs={"timeout": timeout}))
        return Chain(
            w3, kind="rpc", accounts=keys, url=target,
            poll_latency=poll_latency or 0.05, receipt_timeout=receipt_timeout,
        )  # fmt: skip
    raise ChainConfigError(
        f"unknown chain {target!r}: use 'embedded', 'anvil' or an http(s):// JSON-RPC URL"
    )
