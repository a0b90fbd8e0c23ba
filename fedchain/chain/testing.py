"""Helpers for tests of the chain layer, the contracts and later integration tests.

- :func:`chain_factory` - a connected :class:`Chain` (embedded or a real Anvil), closed afterwards.
- :func:`funded_accounts` - fresh accounts funded from a development account.
- :func:`reverts` - a context manager asserting a named contract error (and its arguments).
- :func:`compile_solidity` - compile test-only Solidity at test time with the npm ``solc``
  (``scripts/solc_compile.js``), cached under ``build/solc-cache/``; raises
  :class:`SolcUnavailable` when node or node_modules is missing, so tests can skip.

Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from fedchain.chain.artifacts import Artifact, register_artifact
from fedchain.chain.connection import Chain, connect
from fedchain.chain.contract_errors import lookup
from fedchain.chain.errors import ChainError, ContractError

__all__ = [
    "SOLC_SETTINGS",
    "SolcUnavailable",
    "chain_factory",
    "compile_solidity",
    "find_project_root",
    "funded_accounts",
    "reverts",
]

#: Compiler settings matching hardhat.config.js.
SOLC_SETTINGS: dict[str, Any] = {
    "evmVersion": "cancun",
    "optimizer": {"enabled": True, "runs": 200},
    "outputSelection": {
        "*": {
            "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "userdoc", "devdoc"]
        }
    },
}


class SolcUnavailable(ChainError):
    """Node or the npm ``solc`` package is not installed (run ``npm ci``)."""


def find_project_root() -> Path | None:
    """The checkout root (with ``scripts/solc_compile.js`` and ``node_modules/solc``), or None."""
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for directory in (start, *start.parents):
            if (directory / "scripts" / "solc_compile.js").is_file() and (
                directory / "node_modules" / "solc"
            ).is_dir():
                return directory
    return None


@contextlib.contextmanager
def chain_factory(kind: str = "embedded", **options: Any) -> Iterator[Chain]:
    """``with chain_factory("anvil") as chain:`` - connect, yield, close (stopping Anvil)."""
    chain = connect(kind, **options)
    try:
        yield chain
    finally:
        chain.close()


def funded_accounts(chain: Chain, n: int, *, fund_wei: int = 10**21) -> list[LocalAccount]:
    """``n`` fresh accounts, each funded with ``fund_wei`` from the first development account."""
    return [chain.new_account(fund_wei=fund_wei) for _ in range(n)]


class _Reverted:
    """What :func:`reverts` yields: the caught error, once the block has run."""

    error: ContractError | None = None


@contextlib.contextmanager
def reverts(name: str, **expected_args: Any) -> Iterator[_Reverted]:
    """Assert that the block raises the contract error ``name`` with (some of) ``expected_args``.

    ``name`` is a custom error's name, ``"Error"`` (revert string) or ``"Panic"``::

        with reverts("FixtureTooSmall", given=1) as caught:
            fixture.setValue(1, "x", sender=alice)
        caught.error.error_args["minimum"]
    """
    cls = lookup(name)
    holder = _Reverted()
    try:
        yield holder
    except cls as exc:
        holder.error = exc
        for key, value in expected_args.items():
            if key not in exc.error_args:
                raise AssertionError(f"{exc} has no argument {key!r}") from exc
            if exc.error_args[key] != value:
                raise AssertionError(
                    f"{exc}: expected {key}={value!r}, got {exc.error_args[key]!r}"
                ) from exc
        return
    except ContractError as exc:
        raise AssertionError(f"expected {name}, got {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"expected the contract to revert with {name}, it did not")


def compile_solidity(
    sources: Mapping[str, str | Path],
    *,
    settings: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    register: bool = True,
) -> dict[str, Artifact]:
    """Compile Solidity ``sources`` (source name -> text or file path) with the npm ``solc``.

    Returns every contract's :class:`Artifact` by contract name (registered by default so its
    errors and events decode). Results are cached by the hash of the input.

    Raises:
        SolcUnavailable: node or node_modules/solc is missing.
        ChainError: the compiler reported errors (the message lists them).
    """
    root = find_project_root()
    node = shutil.which("node")
    if root is None or node is None:
        raise SolcUnavailable(
            "compiling Solidity needs node and node_modules/solc: run 'npm ci' in the project root"
        )
    contents = {
        name: {"content": src.read_text() if isinstance(src, Path) else str(src)}
        for name, src in sorted(sources.items())
    }
    request = {
        "language": "Solidity",
        "sources": contents,
        "settings": dict(settings or SOLC_SETTINGS),
    }
    blob = json.dumps(request, sort_keys=True).encode()
    solc_version = json.loads((root / "node_modules" / "solc" / "package.json").read_text())[
        "version"
    ]
    digest = hashlib.sha256(blob + solc_version.encode()).hexdigest()[:24]
    cache = (cache_dir or root / "build" / "solc-cache") / f"{digest}.json"
    if cache.is_file():
        output = json.loads(cache.read_text())
    else:
        proc = subprocess.run(
            [node, str(root / "scripts" / "solc_compile.js")],
            input=blob, capture_output=True, cwd=root, timeout=300, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise ChainError(
                f"solc_compile.js failed: {proc.stderr.decode(errors='replace')[-2000:]}"
            )
        output = json.loads(proc.stdout)
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            text = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors)
            raise ChainError(f"Solidity compilation failed:\n{text}")
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(output))
        tmp.replace(cache)
    artifacts: dict[str, Artifact] = {}
    for source_name, contracts in sorted(output.get("contracts", {}).items()):
        for contract_name, data in sorted(contracts.items()):
            artifact = Artifact.from_json(dict(data, sourceName=source_name), name=contract_name)
            artifacts[contract_name] = register_artifact(artifact) if register else artifact
    return artifacts
