"""Compiled contract artifacts (ABI + bytecode), loaded from ``fedchain/contracts/*.json``.

The project's contracts are compiled by Hardhat and exported by ``scripts/export_artifacts.js``
into the package, so users never need Node or solc. Tests may add artifacts of their own
(compiled at test time) with :func:`register_artifact`; every registry built from the ABIs
(contract errors, event decoding) then includes them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedchain.chain.errors import ArtifactError

__all__ = [
    "ARTIFACTS_DIR",
    "Artifact",
    "all_artifacts",
    "artifact_names",
    "load_artifact",
    "register_artifact",
    "registry_version",
    "unregister_artifact",
]

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"

_lock = threading.RLock()
_registered: dict[str, Artifact] = {}
_file_cache: dict[Path, tuple[float, Artifact]] = {}
_version = 0


@dataclass(frozen=True)
class Artifact:
    """One compiled contract.

    Attributes:
        name: the contract name (``"TaskManager"``).
        abi: the ABI as a list of JSON objects.
        bytecode: creation bytecode as ``0x``-hex (``"0x"`` for interfaces).
        deployed_bytecode: runtime bytecode as ``0x``-hex.
        source_name: the Solidity source path it came from.
        userdoc: NatSpec user documentation (``@notice``) when the artifact carries it.
        devdoc: NatSpec developer documentation when the artifact carries it.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: str = "0x"
    deployed_bytecode: str = "0x"
    source_name: str = ""
    userdoc: Mapping[str, Any] = field(default_factory=dict)
    devdoc: Mapping[str, Any] = field(default_factory=dict)

    @property
    def deployable(self) -> bool:
        """Whether the artifact has creation bytecode (interfaces and abstract contracts do not)."""
        return len(self.bytecode) > 2

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, name: str | None = None) -> Artifact:
        """Build from a Hardhat/export_artifacts JSON object or a solc standard-JSON contract."""
        evm = data.get("evm", {})
        bytecode = data.get("bytecode", evm.get("bytecode", {}).get("object", ""))
        deployed = data.get("deployedBytecode", evm.get("deployedBytecode", {}).get("object", ""))
        if isinstance(bytecode, dict):  # Foundry-style {"object": ...}
            bytecode = bytecode.get("object", "")
        if isinstance(deployed, dict):
            deployed = deployed.get("object", "")
        contract_name = name or data.get("contractName")
        if not contract_name:
            raise ArtifactError("artifact JSON has no contractName; pass name=")
        return cls(
            name=str(contract_name),
            abi=list(data.get("abi", [])),
            bytecode=_hex(bytecode),
            deployed_bytecode=_hex(deployed),
            source_name=str(data.get("sourceName", "")),
            userdoc=dict(data.get("userdoc", {})),
            devdoc=dict(data.get("devdoc", {})),
        )


def _hex(code: str) -> str:
    code = code or ""
    return code if code.startswith("0x") else "0x" + code


def _load_file(path: Path) -> Artifact:
    mtime = path.stat().st_mtime
    cached = _file_cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read contract artifact {path}: {exc}") from exc
    artifact = Artifact.from_json(data, name=path.stem)
    _file_cache[path] = (mtime, artifact)
    return artifact


def artifact_names() -> list[str]:
    """Names of every known artifact (packaged and registered), sorted."""
    packaged = {p.stem for p in ARTIFACTS_DIR.glob("*.json")} if ARTIFACTS_DIR.is_dir() else set()
    with _lock:
        return sorted(packaged | set(_registered))


def load_artifact(name: str) -> Artifact:
    """The artifact ``name``: a registered one first, else ``fedchain/contracts/<name>.json``.

    Raises:
        ArtifactError: no such artifact (the message lists the known names).
    """
    with _lock:
        if name in _registered:
            return _registered[name]
        path = ARTIFACTS_DIR / f"{name}.json"
        if path.is_file():
            return _load_file(path)
    known = ", ".join(artifact_names()) or "none (run 'make compile')"
    raise ArtifactError(f"no contract artifact named {name!r}; known: {known}")


def all_artifacts() -> Iterator[Artifact]:
    """Every known artifact, in name order."""
    for name in artifact_names():
        yield load_artifact(name)


def register_artifact(artifact: Artifact) -> Artifact:
    """Make ``artifact`` known by name (tests compile contracts of their own); returns it."""
    global _version
    with _lock:
        _registered[artifact.name] = artifact
        _version += 1
    return artifact


def unregister_artifact(name: str) -> None:
    """Forget a registered artifact (no-op if unknown)."""
    global _version
    with _lock:
        if _registered.pop(name, None) is not None:
            _version += 1


def registry_version() -> tuple[int, tuple[tuple[str, float], ...]]:
    """A value that changes whenever the set of known artifacts changes (for derived caches)."""
    files: tuple[tuple[str, float], ...] = ()
    if ARTIFACTS_DIR.is_dir():
        files = tuple(sorted((p.name, p.stat().st_mtime) for p in ARTIFACTS_DIR.glob("*.json")))
    with _lock:
        return _version, files
