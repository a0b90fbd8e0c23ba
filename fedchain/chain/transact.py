"""Sending transactions: local signing, per-sender nonces, EIP-1559 fees, receipts, reverts.

Every transaction is signed locally with a :class:`~eth_account.signers.local.LocalAccount` and
sent raw, so the same code runs on the embedded chain, Anvil and any JSON-RPC node. Reverts,
whether at gas estimation, in a view or in a mined transaction, are replayed with ``eth_call`` to
recover the revert data and raised as the named :class:`~fedchain.chain.errors.ContractError`.

A transaction's cost may depend on what others did between its gas estimate and its block (the
attestation that happens to complete a quorum finalizes the round, at many times the gas). When
a mined transaction reverted without a reason of its own (out of gas, possibly inside a
``DELEGATECALL`` where ``gasUsed`` stays below the limit, or a replay that no longer reverts
because another transaction of the same block changed the state), :meth:`Transactor.send`
estimates it again against the latest state and resends it with a wider margin, a bounded number
of times; when the new estimate reverts, that named contract error is raised.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.exceptions import TransactionNotFound

from fedchain.chain.contract_errors import decode_revert
from fedchain.chain.errors import (
    ChainConnectionError,
    ChainError,
    InsufficientFundsError,
    NonceError,
    OutOfGasError,
    TransactionError,
    TransactionTimeoutError,
)
from fedchain.chain.events import DecodedEvent, decode_logs
from fedchain.chain.gas import GasRecord

if TYPE_CHECKING:
    from fedchain.chain.connection import Chain

__all__ = ["BlockId", "Transactor", "TxResult", "provider_error", "to_address"]

BlockId = int | str

_NONCE_PATTERNS = re.compile(
    r"nonce too (low|high)|invalid transaction nonce|already known|replacement transaction "
    r"underpriced|nonce has already been used|known transaction",
    re.IGNORECASE,
)
_FUNDS_PATTERNS = re.compile(
    r"insufficient funds|not have enough balance|insufficient balance", re.IGNORECASE
)
_REVERT_PATTERNS = re.compile(r"revert|invalid opcode|execution failed", re.IGNORECASE)
#: The very transaction is already in the node's pool: wait for it, do not sign another.
_KNOWN_PATTERNS = re.compile(r"already known|known transaction|already imported", re.IGNORECASE)
#: Resends after a mined transaction reverted for reasons of its block, not of its own.
MAX_RESENDS = 3
#: The margin on a resend's estimate: the cost proved to move under the transaction.
RESEND_HEADROOM = 2.0
#: Attempts at a fresh nonce when the node rejects one (another sender of this key, a restart).
_NONCE_ATTEMPTS = 3


class _Resend(Exception):
    """A mined transaction reverted for reasons of its block: estimate again and resend."""

    def __init__(self, error: ChainError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Unconfirmed:
    """A transaction that was (maybe) sent, but whose receipt was never seen."""

    tx_hash: str
    sender: str
    nonce: int
    label: str


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction.

    Attributes:
        tx_hash: ``0x``-hex transaction hash.
        receipt: the raw receipt (web3 AttributeDict).
        gas_used: gas the transaction used.
        events: the logs of the receipt decoded against every known ABI, in log order.
        block_number: the block it was mined in.
        label: what was called, ``"Contract.function"``.
        fee_wei: gas used x effective gas price.
        contract_address: the new contract for a deployment, else None.
    """

    tx_hash: str
    receipt: Mapping[str, Any] = field(repr=False)
    gas_used: int
    events: list[DecodedEvent]
    block_number: int
    label: str = ""
    fee_wei: int = 0
    contract_address: str | None = None

    def events_named(self, name: str) -> list[DecodedEvent]:
        """The decoded events called ``name``."""
        return [e for e in self.events if e.name == name]

    def event(self, name: str) -> DecodedEvent:
        """The single event called ``name``.

        Raises:
            ChainError: none or several such events.
        """
        found = self.events_named(name)
        if len(found) != 1:
            names = ", ".join(e.name for e in self.events) or "none"
            raise ChainError(f"expected one {name} event in {self.label or self.tx_hash}, found "
                             f"{len(found)} (events: {names})")  # fmt: skip
        return found[0]


def to_address(value: Any) -> str:
    """A checksummed address from a str, a LocalAccount or a bound contract."""
    if hasattr(value, "address"):
        value = value.address
    try:
        return to_checksum_address(value)
    except (ValueError, TypeError) as exc:
        raise ChainError(f"not an address: {value!r}") from exc


def _message_of(exc: BaseException) -> str:
    rpc = getattr(exc, "rpc_response", None)
    if isinstance(rpc, Mapping) and isinstance(rpc.get("error"), Mapping):
        return str(rpc["error"].get("message", exc))
    if exc.args and isinstance(exc.args[0], Mapping):
        return str(exc.args[0].get("message", exc))
    return str(exc)


def provider_error(exc: BaseException, *, what: str) -> ChainError | None:
    """Translate a provider/transport exception into a named :class:`ChainError`, or None.

    ``what`` says what was being done ("sending Fixture.setValue") for the message.
    """
    if isinstance(exc, ChainError):
        return exc
    name = type(exc).__name__
    module = type(exc).__module__
    transport = (
        module.startswith(("requests", "urllib3", "httpx", "aiohttp"))
        or isinstance(exc, ConnectionError | TimeoutError)
        or name in ("ProviderConnectionError", "TimeExhausted")
    )
    message = _message_of(exc)
    if transport:
        return ChainConnectionError(f"node unreachable while {what}: {message}")
    if _FUNDS_PATTERNS.search(message):
        return InsufficientFundsError(f"insufficient funds while {what}: {message}")
    if _NONCE_PATTERNS.search(message):
        return NonceError(f"nonce rejected while {what}: {message}")
    return None


def _is_revert(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("TransactionFailed", "ContractLogicError", "ContractCustomError"):
        return True
    return name == "ContractPanicError" or bool(_REVERT_PATTERNS.search(_message_of(exc)))


class Transactor:
    """Builds, signs, sends and waits for transactions on one :class:`Chain`. Thread-safe."""

    def __init__(
        self,
        chain: Chain,
        *,
        gas_headroom: float = 1.25,
        receipt_timeout: float = 120.0,
        poll_latency: float = 0.05,
    ) -> None:
        self.chain = chain
        self.gas_headroom = gas_headroom
        self.receipt_timeout = receipt_timeout
        self.poll_latency = poll_latency
        self.max_resends = MAX_RESENDS
        self._nonces: dict[str, int] = {}
        self._unconfirmed: dict[str, _Unconfirmed] = {}
        self._lock = threading.RLock()

    # -- nonces ------------------------------------------------------------------------------

    def _next_nonce(self, address: str) -> int:
        if address not in self._nonces:
            eth: Any = self.chain.w3.eth
            self._nonces[address] = eth.get_transaction_count(address, "pending")
        nonce = self._nonces[address]
        self._nonces[address] = nonce + 1
        return nonce

    def reset_nonces(self) -> None:
        """Forget cached nonces (after a snapshot revert, or when others sent transactions)."""
        with self._lock:
            self._nonces.clear()

    # -- fees --------------------------------------------------------------------------------

    def _fees(self) -> dict[str, int]:
        eth = self.chain.w3.eth
        block = eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:  # a pre-London node: legacy pricing
            return {"gasPrice": int(eth.gas_price)}
        try:
            tip = int(eth.max_priority_fee)
        except Exception:  # nodes without eth_maxPriorityFeePerGas
            tip = 10**9
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * int(base) + tip}

    # -- calls -------------------------------------------------------------------------------

    def call(
        self,
        tx: Mapping[str, Any],
        *,
        block: BlockId = "latest",
        context: str = "",
    ) -> bytes:
        """``eth_call``; a revert raises the decoded :class:`ContractError`."""
        tx = dict(tx)
        if "from" not in tx:  # else eth-tester's middleware asks eth_accounts on every call
            accounts = self.chain.dev_accounts(1) if self.chain._accounts else []
            tx["from"] = accounts[0].address if accounts else "0x" + "00" * 20
        try:
            eth: Any = self.chain.w3.eth
            return bytes(eth.call(tx, block))
        except Exception as exc:
            self._raise_for(exc, tx, block=block, what=f"calling {context or 'a contract'}",
                            context=context)  # fmt: skip
            raise  # unreachable: _raise_for always raises

    def estimate_gas(self, tx: Mapping[str, Any], *, context: str = "") -> int:
        """``eth_estimateGas``; a revert raises the decoded :class:`ContractError`."""
        try:
            eth: Any = self.chain.w3.eth
            return int(eth.estimate_gas(dict(tx)))
        except Exception as exc:
            self._raise_for(exc, tx, block="latest", what=f"estimating gas for {context}",
                            context=context)  # fmt: skip
            raise

    def _raise_for(
        self, exc: Exception, tx: Mapping[str, Any], *, block: BlockId, what: str, context: str
    ) -> None:
        translated = provider_error(exc, what=what)
        if translated is not None:
            raise translated from None
        if _is_revert(exc):
            data = self.chain._revert_data(tx, block)
            raise decode_revert(data, context=context) from None
        raise TransactionError(f"node error while {what}: {_message_of(exc)}") from None

    def _settle(self, tx_hash: str, deadline: float) -> str:
        """``"mined"``, ``"gone"`` (the node does not know it) or ``"pending"`` at ``deadline``."""
        eth: Any = self.chain.w3.eth
        while True:
            try:
                eth.get_transaction_receipt(tx_hash)
                return "mined"
            except TransactionNotFound:
                pass
            try:
                eth.get_transaction(tx_hash)
            except TransactionNotFound:
                return "gone"
            if time.monotonic() > deadline:
                return "pending"
            time.sleep(self.poll_latency)

    # -- transactions ------------------------------------------------------------------------

    def send(
        self,
        *,
        sender: LocalAccount,
        to: str | None,
        data: bytes = b"",
        value: int = 0,
        gas: int | None = None,
        label: str = "",
    ) -> TxResult:
        """Sign, send and wait for a transaction; returns its :class:`TxResult`.

        Raises:
            ContractError: (subclass) the contract reverted, at estimation or once mined.
            InsufficientFundsError, NonceError, TransactionTimeoutError, OutOfGasError,
            ChainConnectionError: as their names say.
        """
        if not isinstance(sender, LocalAccount):
            raise TransactionError(
                f"sender must be a LocalAccount with its key (got {type(sender).__name__}); "
                "use chain.dev_accounts() or chain.new_account()"
            )
        if value < 0:
            raise TransactionError(f"value must be >= 0 wei, got {value}")
        label = label or ("ETH.transfer" if to and not data else "transaction")
        call_tx: dict[str, Any] = {"from": sender.address, "value": value, "data": data}
        if to is not None:
            call_tx["to"] = to
        fixed_gas = gas is not None
        for attempt in range(self.max_resends + 1):
            if not fixed_gas:  # the estimate raises the named error when the call reverts now
                estimate = self.estimate_gas(call_tx, context=label)
                headroom = self.gas_headroom if attempt == 0 else max(self.gas_headroom,
                                                                      RESEND_HEADROOM)  # fmt: skip
                gas = min(int(estimate * headroom) + 10_000, self.chain.block_gas_limit())
            tx = dict(call_tx, gas=gas, chainId=self.chain.chain_id, **self._fees())
            tx_hash = self._sign_and_send(sender, tx, label)
            receipt = self._wait(tx_hash, label, sender.address)
            try:
                return self._result(receipt, tx, label)
            except _Resend as resend:
                if fixed_gas or attempt == self.max_resends:
                    raise resend.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _sign_and_send(self, sender: LocalAccount, tx: dict[str, Any], label: str) -> str:
        what = f"sending {label}"
        for attempt in range(_NONCE_ATTEMPTS):
            with self._lock:
                tx["nonce"] = self._next_nonce(sender.address)
                signed = sender.sign_transaction(tx)
                tx_hash = "0x" + bytes(signed.hash).hex()
                try:
                    sent = self.chain.w3.eth.send_raw_transaction(signed.raw_transaction)
                    return "0x" + bytes(sent).hex()
                except Exception as exc:
                    self._nonces.pop(sender.address, None)  # resync from the node next time
                    translated = provider_error(exc, what=what)
                    if isinstance(translated, ChainConnectionError):
                        # It may have reached the node: reconcile() looks for it once it is back.
                        self._unconfirmed[tx_hash] = _Unconfirmed(
                            tx_hash, sender.address, int(tx["nonce"]), label
                        )
                        raise translated from None
                    if _KNOWN_PATTERNS.search(_message_of(exc)):
                        return tx_hash  # this very transaction is already pending: wait for it
                    if isinstance(translated, NonceError) and attempt < _NONCE_ATTEMPTS - 1:
                        continue
                    if translated is not None:
                        raise translated from None
                    raise TransactionError(f"node rejected {label}: {_message_of(exc)}") from None
        raise NonceError(f"nonce rejected {_NONCE_ATTEMPTS} times while {what}")  # pragma: no cover

    def _wait(self, tx_hash: str, label: str, sender: str) -> Mapping[str, Any]:
        """Poll for the receipt; notice when the node dropped the transaction instead of hanging."""
        eth = self.chain.w3.eth
        deadline = time.monotonic() + self.receipt_timeout
        next_check, missing = time.monotonic() + 1.0, 0
        try:
            while True:
                try:
                    return eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
                except TransactionNotFound:
                    pass
                now = time.monotonic()
                if now >= next_check:
                    try:
                        eth.get_transaction(tx_hash)  # type: ignore[arg-type]
                        missing = 0
                    except TransactionNotFound:
                        missing += 1
                    if missing >= 2:
                        with self._lock:
                            self._nonces.pop(sender, None)
                        raise TransactionError(
                            f"{label}: the node dropped transaction {tx_hash} without mining it "
                            "(is the gas limit below the intrinsic/calldata cost?)"
                        )
                    next_check = now + 1.0
                if now > deadline:
                    raise TransactionTimeoutError(
                        f"{label}: no receipt for {tx_hash} within {self.receipt_timeout:.0f} s"
                    )
                time.sleep(self.poll_latency)
        except ChainConnectionError:
            self._lost(tx_hash, sender, label)
            raise
        except ChainError:
            raise
        except Exception as exc:
            translated = provider_error(exc, what=f"waiting for {label}")
            if isinstance(translated, ChainConnectionError):
                self._lost(tx_hash, sender, label)
            if translated is not None:
                raise translated from None
            raise TransactionError(f"{label}: {_message_of(exc)}") from None

    def _lost(self, tx_hash: str, sender: str, label: str) -> None:
        """The node went away while ``tx_hash`` was pending: remember it for :meth:`reconcile`."""
        with self._lock:
            self._nonces.pop(sender, None)
            if tx_hash not in self._unconfirmed:
                self._unconfirmed[tx_hash] = _Unconfirmed(tx_hash, sender, -1, label)

    @property
    def unconfirmed(self) -> list[str]:
        """Hashes of transactions sent (or maybe sent) while the node went away, not yet known
        to be mined or gone; :meth:`reconcile` settles them."""
        with self._lock:
            return list(self._unconfirmed)

    def reconcile(self, *, timeout: float | None = None) -> list[str]:
        """After the node was unreachable: settle what this transactor may have left in flight.

        Every transaction whose send or receipt wait failed on the transport is looked up: one
        that was mined, or that the node no longer knows (its pool was lost with a restart), is
        forgotten; one still pending is waited for, up to ``timeout`` seconds (default: the
        receipt timeout). Cached nonces are dropped, so the next send asks the node (which may
        have restarted from an older state). A caller then re-reads the chain's state before it
        decides to send again, so nothing is sent twice blindly.

        Returns:
            the hashes of the transactions that were mined.

        Raises:
            ChainConnectionError: the node is still unreachable.
        """
        deadline = time.monotonic() + (self.receipt_timeout if timeout is None else timeout)
        mined: list[str] = []
        with self._lock:
            self._nonces.clear()
            pending = list(self._unconfirmed.values())
        for item in pending:
            outcome = self._settle(item.tx_hash, deadline)
            if outcome == "mined":
                mined.append(item.tx_hash)
            if outcome != "pending":
                with self._lock:
                    self._unconfirmed.pop(item.tx_hash, None)
        return mined

    def _result(self, receipt: Mapping[str, Any], tx: Mapping[str, Any], label: str) -> TxResult:
        gas_used = int(receipt["gasUsed"])
        price = int(receipt.get("effectiveGasPrice") or tx.get("gasPrice") or 0)
        tx_hash = "0x" + bytes(receipt["transactionHash"]).hex()
        block_number = int(receipt["blockNumber"])
        if int(receipt.get("status", 1)) != 1:
            # Out of gas, a reason-less revert (an out-of-gas inside a DELEGATECALL leaves
            # gasUsed below the limit), or a replay that succeeds (another transaction of the
            # same block changed the state): reasons of the block, not of the call; send()
            # estimates again against the latest state and resends.
            if gas_used >= int(tx["gas"]):
                raise _Resend(OutOfGasError(
                    f"{label} ran out of gas ({gas_used} of {tx['gas']}) in {tx_hash}"
                ))  # fmt: skip
            call_tx = {k: tx[k] for k in ("from", "to", "value", "data", "gas") if k in tx}
            data = self.chain._revert_data(call_tx, max(block_number - 1, 0))
            if data is None:
                raise _Resend(TransactionError(
                    f"{label} reverted in {tx_hash}, but replaying it did not revert"
                ))  # fmt: skip
            error = decode_revert(data, context=label)
            if not data:
                raise _Resend(error)
            raise error
        address = receipt.get("contractAddress")
        result = TxResult(
            tx_hash=tx_hash,
            receipt=receipt,
            gas_used=gas_used,
            events=decode_logs(receipt.get("logs", [])),
            block_number=block_number,
            label=label,
            fee_wei=gas_used * price,
            contract_address=to_checksum_address(address) if address else None,
        )
        self.chain.gas.record(GasRecord(label, gas_used, result.fee_wei, tx_hash, block_number))
        return result
