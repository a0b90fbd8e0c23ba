"""Exceptions of the chain layer.

Everything here derives from :class:`fedchain.errors.FedChainError`; no provider traceback is
meant to reach a user. The tree::

    FedChainError
    └── ChainError
        ├── ChainConfigError(ChainError, ConfigError)          unknown target, bad options
        ├── ChainConnectionError(ChainError, ConnectionError)  node unreachable or answers badly
        │   ├── NodeUnreachableError                           the transport failed (any call)
        │   ├── NodeWaitTimeoutError(..., TimeoutError)        unreachable for too long (roles)
        │   └── AnvilError                                     Anvil missing, failed to start
        ├── ArtifactError(ChainError, LookupError)             no compiled artifact of that name
        ├── AbiArgumentError(ChainError, ValueError)           arguments do not fit the ABI
        ├── UnsupportedOperationError                          e.g. time travel on an RPC node
        ├── TransactionError                                   could not be sent or mined
        │   ├── InsufficientFundsError                         sender cannot pay value + gas
        │   ├── NonceError                                     nonce rejected after a resync
        │   ├── TransactionTimeoutError(..., TimeoutError)     no receipt in time
        │   └── OutOfGasError                                  mined, ran out of gas
        └── ContractError                                      a contract reverted
            ├── <one class per custom error in the ABIs>       fedchain.chain.contract_errors
            ├── RevertError                                    Error(string): require(c, "why")
            ├── PanicError                                     Panic(uint256): overflow, div by 0
            └── UnknownRevertError                             empty or unknown revert data

A :class:`ContractError` carries ``error_name`` (the Solidity name), ``error_args`` (a dict keyed by
the ABI input names), ``selector`` (the 4-byte selector, ``bytes``) and ``data`` (the raw revert
data). Its message is the Solidity-looking ``TaskManagerRoundClosed(taskId=1, round=3)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fedchain.errors import ConfigError, FedChainError

__all__ = [
    "AbiArgumentError",
    "AnvilError",
    "ArtifactError",
    "ChainConfigError",
    "ChainConnectionError",
    "ChainError",
    "ContractError",
    "InsufficientFundsError",
    "NodeUnreachableError",
    "NodeWaitTimeoutError",
    "NonceError",
    "OutOfGasError",
    "PanicError",
    "RevertError",
    "TransactionError",
    "TransactionTimeoutError",
    "UnknownRevertError",
    "UnsupportedOperationError",
    "format_value",
    "lookup",
]


class ChainError(FedChainError):
    """Base class of every error of the chain layer."""


class ChainConfigError(ChainError, ConfigError):
    """Invalid chain options, e.g. an unknown connection target."""


class ChainConnectionError(ChainError, ConnectionError):
    """A node cannot be reached, refused a request, or is not an Ethereum JSON-RPC node."""


class NodeUnreachableError(ChainConnectionError):
    """The node could not be reached at all: connection refused or reset, a timeout, an HTTP
    error from a proxy in front of it. Raised by the provider, whichever call hit it.

    Attributes:
        url: the node's URL fit to print (credentials replaced by ``***``).
        method: the JSON-RPC method that failed (``"eth_blockNumber"``).
    """

    def __init__(self, message: str, *, url: str = "", method: str = "") -> None:
        super().__init__(message)
        self.url = url
        self.method = method

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_unreachable, (str(self), self.url, self.method))


def _rebuild_unreachable(message: str, url: str, method: str) -> NodeUnreachableError:
    return NodeUnreachableError(message, url=url, method=method)


class NodeWaitTimeoutError(ChainConnectionError, TimeoutError):
    """A role waited for an unreachable node longer than it was allowed to (``node_timeout``).
    The CLI exits with code 3."""

    exit_code = 3


class AnvilError(ChainConnectionError):
    """The Anvil binary is missing, or the node failed to start or stop."""


class ArtifactError(ChainError, LookupError):
    """No compiled contract artifact (ABI + bytecode) of the requested name."""


class AbiArgumentError(ChainError, ValueError):
    """Arguments that do not fit a function's ABI (count, type, bytes length)."""


class UnsupportedOperationError(ChainError):
    """The operation needs a development node (embedded or Anvil), e.g. time travel."""


class TransactionError(ChainError):
    """A transaction could not be built, sent, or mined."""


class InsufficientFundsError(TransactionError):
    """The sender's balance does not cover value + gas."""


class NonceError(TransactionError):
    """The node rejected the nonce even after resynchronising it."""


class TransactionTimeoutError(TransactionError, TimeoutError):
    """No receipt arrived within the timeout."""


class OutOfGasError(TransactionError):
    """The transaction was mined but ran out of gas."""


def format_value(value: Any) -> str:
    """Render an ABI value the way a Solidity programmer reads it (bytes as 0x-hex)."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        return repr(value) if not value.startswith("0x") else value
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={format_value(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


class ContractError(ChainError):
    """A contract reverted; subclasses name the Solidity error.

    Attributes:
        error_name: the Solidity error name (``"Panic"``, ``"Error"`` or a custom error's name).
        error_args: the error's arguments keyed by their ABI names.
        selector: the 4-byte error selector (``b""`` when the revert carried no data).
        data: the raw revert data.
        context: where it happened, e.g. ``"TaskManager.submitUpdate"`` (may be empty).
    """

    error_name: ClassVar[str] = ""
    selector: ClassVar[bytes] = b""
    signature: ClassVar[str] = ""

    def __init__(
        self, error_args: dict[str, Any] | None = None, *, data: bytes = b"", context: str = ""
    ) -> None:
        self.error_args: dict[str, Any] = dict(error_args or {})
        self.data = bytes(data)
        self.context = context
        super().__init__(self._message())

    def _message(self) -> str:
        inner = ", ".join(f"{k}={format_value(v)}" for k, v in self.error_args.items())
        return f"{self.error_name or type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        from fedchain.chain import contract_errors

        return (
            contract_errors._rebuild,
            (self.error_name, self.error_args, self.data, self.context),
        )


class RevertError(ContractError):
    """``revert("reason")`` / ``require(cond, "reason")``: Solidity's ``Error(string)``."""

    error_name = "Error"
    selector = bytes.fromhex("08c379a0")
    signature = "Error(string)"

    @property
    def reason(self) -> str:
        """The revert reason string."""
        return str(self.error_args.get("message", ""))


PANIC_CODES: dict[int, str] = {
    0x00: "generic compiler panic",
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array encoding",
    0x31: "pop() on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to a zero-initialised internal function",
}


class PanicError(ContractError):
    """Solidity's ``Panic(uint256)``: an assertion, overflow, division by zero, bad index..."""

    error_name = "Panic"
    selector = bytes.fromhex("4e487b71")
    signature = "Panic(uint256)"

    @property
    def code(self) -> int:
        """The panic code (e.g. ``0x11`` for an arithmetic overflow)."""
        return int(self.error_args.get("code", 0))

    @property
    def panic_name(self) -> str:
        """A readable name of the panic code."""
        return PANIC_CODES.get(self.code, "unknown panic code")

    def _message(self) -> str:
        return f"Panic(0x{self.code:02x}: {self.panic_name})"


class UnknownRevertError(ContractError):
    """A revert without data, or with a selector that no known ABI declares."""

    error_name = "UnknownRevert"

    def _message(self) -> str:
        if not self.data:
            return "reverted without a reason (no revert data)"
        return f"reverted with unrecognised data 0x{self.data.hex()}"


def lookup(name: str) -> type[ContractError]:
    """The exception class of the contract error ``name`` (e.g. ``"TaskManagerRoundClosed"``).

    Also knows ``"Error"`` (:class:`RevertError`) and ``"Panic"`` (:class:`PanicError`).
    Raises :class:`ArtifactError` if no known ABI declares such an error.
    """
    from fedchain.chain import contract_errors

    return contract_errors.lookup(name)
