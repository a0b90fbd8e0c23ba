"""The committed typed bindings match the exported ABIs; the generator's output is usable."""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

from fedchain.chain import BoundContract

ROOT = Path(__file__).resolve().parents[2]


def test_committed_bindings_are_fresh(gen_bindings: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "bindings.py"
    assert gen_bindings.main(["--out", str(out)]) == 0
    committed = (ROOT / "fedchain" / "chain" / "bindings.py").read_text()
    assert out.read_text() == committed, (
        "fedchain/chain/bindings.py is stale: run 'python scripts/gen_bindings.py' and commit it"
    )
    assert gen_bindings.main(["--check"]) == 0


def test_generation_is_deterministic_and_ruff_clean(
    gen_bindings: ModuleType, fixture_binding: type, tmp_path: Path
) -> None:
    source = inspect.getsource(inspect.getmodule(fixture_binding))  # type: ignore[arg-type]
    directory = Path(inspect.getfile(fixture_binding)).parent
    assert gen_bindings.render_bindings(gen_bindings.load_artifacts(directory)) == source
    ruff = shutil.which("ruff") or str(Path(__import__("sys").executable).parent / "ruff")
    if Path(ruff).exists():
        target = tmp_path / "generated.py"
        target.write_text(source)
        for args in (["check", "--no-cache"], ["format", "--check", "--no-cache"]):
            proc = subprocess.run([ruff, *args, str(target)], capture_output=True, text=True,
                                  cwd=ROOT, check=False)  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_class_is_typed_and_documented(fixture_binding: type) -> None:
    assert issubclass(fixture_binding, BoundContract)
    assert fixture_binding.CONTRACT_NAME == "Fixture"
    set_value = inspect.signature(fixture_binding.setValue)
    assert list(set_value.parameters) == ["self", "newValue", "note", "sender", "value", "gas"]
    assert set_value.parameters["sender"].kind is inspect.Parameter.KEYWORD_ONLY
    assert set_value.return_annotation == "TxResult"
    assert set_value.parameters["newValue"].annotation == "int"
    assert "reverts with FixtureTooSmall below 10" in fixture_binding.setValue.__doc__
    assert "setValue(uint256,string)" in fixture_binding.setValue.__doc__
    point_of = inspect.signature(fixture_binding.pointOf)
    assert point_of.return_annotation == "Point"
    assert point_of.parameters["block"].default == "latest"
    module = inspect.getmodule(fixture_binding)
    assert module.Point._fields == ("x", "y", "owner", "tag")  # type: ignore[union-attr]
    assert {"Fixture": fixture_binding} == module.BINDINGS  # type: ignore[union-attr]
    assert "small contract the chain-layer tests compile" in (fixture_binding.__doc__ or "")


def test_name_clashes_are_renamed(gen_bindings: ModuleType) -> None:
    abi = [
        {"type": "function", "name": "events", "stateMutability": "view",
         "inputs": [{"name": "value", "type": "uint256"}, {"name": "", "type": "bool"}],
         "outputs": [{"name": "", "type": "uint256"}]},
        {"type": "function", "name": "pay", "stateMutability": "payable",
         "inputs": [{"name": "value", "type": "uint256"}, {"name": "_gas", "type": "uint8[]"}],
         "outputs": []},
        {"type": "function", "name": "f", "stateMutability": "pure",
         "inputs": [{"name": "a", "type": "uint256"}], "outputs": []},
        {"type": "function", "name": "f", "stateMutability": "pure",
         "inputs": [{"name": "a", "type": "address"}], "outputs": []},
    ]  # fmt: skip
    source = gen_bindings.render_bindings([{"contractName": "Clash", "abi": abi, "bytecode": "0x"}])
    namespace: dict = {}
    exec(compile(source, "clash_bindings.py", "exec"), namespace)
    clash = namespace["Clash"]
    assert "events" not in clash.__dict__ and "events_" in clash.__dict__
    assert list(inspect.signature(clash.events_).parameters)[:3] == ["self", "value", "arg1"]
    assert list(inspect.signature(clash.pay).parameters)[:3] == ["self", "value_", "gas_"]
    assert {"f_uint256", "f_address"} <= set(clash.__dict__)
