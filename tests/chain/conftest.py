"""Fixtures of the chain-layer tests: the Fixture contract compiled at test time, its generated
binding, and chains (embedded, and a real Anvil process for tests marked ``anvil``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from fedchain.chain import Artifact, Chain, connect, find_anvil_binary
from fedchain.chain.errors import AnvilError
from fedchain.chain.testing import SolcUnavailable, compile_solidity

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"_fedchain_script_{name}", ROOT / "scripts" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def gen_bindings() -> ModuleType:
    """``scripts/gen_bindings.py`` imported as a module."""
    return _load_script("gen_bindings")


@pytest.fixture(scope="session")
def fixture_artifact() -> Artifact:
    """tests/chain/fixtures/Fixture.sol compiled with the npm solc (cached under build/)."""
    try:
        artifacts = compile_solidity({"Fixture.sol": FIXTURES / "Fixture.sol"})
    except SolcUnavailable as exc:
        pytest.skip(f"cannot compile the test contract: {exc}")
    return artifacts["Fixture"]


@pytest.fixture(scope="session")
def fixture_binding(
    fixture_artifact: Artifact, gen_bindings: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> type:
    """The typed class scripts/gen_bindings.py generates for the Fixture contract."""
    directory = tmp_path_factory.mktemp("fixture-bindings")
    art = fixture_artifact
    (directory / "Fixture.json").write_text(json.dumps({
        "contractName": art.name, "sourceName": art.source_name, "abi": art.abi,
        "bytecode": art.bytecode, "deployedBytecode": art.deployed_bytecode,
        "userdoc": dict(art.userdoc), "devdoc": dict(art.devdoc),
    }))  # fmt: skip
    out = directory / "fixture_bindings.py"
    out.write_text(gen_bindings.render_bindings(gen_bindings.load_artifacts(directory)))
    spec = importlib.util.spec_from_file_location("_fixture_bindings", out)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.Fixture


def _anvil_or_skip() -> None:
    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def anvil_available() -> None:
    """Skip when the Anvil binary is not installed (npm ci)."""
    _anvil_or_skip()


@pytest.fixture(scope="module")
def anvil_chain() -> Iterator[Chain]:
    """A chain on a real Anvil process, shared by a module's tests."""
    _anvil_or_skip()
    with connect("anvil") as chain:
        yield chain


@pytest.fixture
def embedded_chain() -> Iterator[Chain]:
    """A fresh in-process py-evm chain."""
    with connect("embedded") as chain:
        yield chain


@pytest.fixture(params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def chain(request: pytest.FixtureRequest) -> Chain:
    """The embedded chain and a real Anvil (marked ``anvil``): the same tests run on both."""
    if request.param == "embedded":
        return request.getfixturevalue("embedded_chain")
    return request.getfixturevalue("anvil_chain")
