#!/usr/bin/env python3
"""Generate ``fedchain/chain/bindings.py``: one typed class per contract artifact.

Reads every ``fedchain/contracts/*.json`` (ABI + bytecode, optionally NatSpec ``userdoc`` /
``devdoc``) and writes a module with one :class:`~fedchain.chain.contract.BoundContract` subclass
per contract, one method per ABI function (views return decoded values, transacting methods take
``*, sender, value=0, gas=None`` and return a ``TxResult``), and one ``NamedTuple`` per struct.
The output is deterministic; ``tests/chain/test_bindings_fresh.py`` fails when it is stale.

Usage: python scripts/gen_bindings.py [--artifacts DIR] [--out FILE] [--check]
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fedchain.chain.abi import entry_signature, param_type

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARTIFACTS = ROOT / "fedchain" / "contracts"
DEFAULT_OUT = ROOT / "fedchain" / "chain" / "bindings.py"

#: Attributes of BoundContract a generated method must not shadow (renamed with a trailing _).
RESERVED_METHODS = frozenset(
    {"abi", "address", "artifact", "balance", "call_function", "chain", "encode", "estimate_gas",
     "events", "function_entry", "name", "transact", "CONTRACT_NAME", "STRUCTS", "deployment"}
)  # fmt: skip
TX_KEYWORDS = frozenset({"self", "sender", "value", "gas"})
VIEW_KEYWORDS = frozenset({"self", "sender", "block"})


def identifier(name: str, reserved: Iterable[str] = ()) -> str:
    """A valid, non-clashing Python identifier for a Solidity name."""
    name = re.sub(r"\W", "_", name).lstrip("_") or "arg"
    if name[0].isdigit():
        name = "_" + name
    while keyword.iskeyword(name) or name in reserved:
        name += "_"
    return name


class Generator:
    def __init__(self, artifacts: list[dict[str, Any]]) -> None:
        self.artifacts = sorted(artifacts, key=lambda a: a["contractName"])
        self.structs: dict[str, dict[str, Any]] = {}  # qualified name -> tuple param
        self.results: list[str] = []  # rendered result NamedTuples
        for artifact in self.artifacts:
            for entry in artifact.get("abi", []):
                for param in [*entry.get("inputs", []), *entry.get("outputs", [])]:
                    self._collect_structs(param)
        short: dict[str, list[str]] = {}
        for qualified in self.structs:
            short.setdefault(qualified.rpartition(".")[2], []).append(qualified)
        self.struct_names = {
            q: identifier(q.rpartition(".")[2] if len(short[q.rpartition(".")[2]]) == 1 else q)
            for q in self.structs
        }

    def _collect_structs(self, param: Mapping[str, Any]) -> None:
        if str(param["type"]).startswith("tuple"):
            qualified = self._struct_key(param)
            if qualified:
                self.structs.setdefault(qualified, dict(param, type="tuple"))
            for component in param.get("components", []):
                self._collect_structs(component)

    @staticmethod
    def _struct_key(param: Mapping[str, Any]) -> str:
        internal = str(param.get("internalType", ""))
        if not internal.startswith("struct "):
            return ""
        return re.sub(r"(\[\d*\])+$", "", internal.removeprefix("struct "))

    def py_type(self, param: Mapping[str, Any]) -> str:
        typ = str(param["type"])
        if typ.endswith("]"):
            inner = dict(param, type=typ[: typ.rindex("[")])
            return f"list[{self.py_type(inner)}]"
        if typ == "tuple":
            key = self._struct_key(param)
            if key:
                return self.struct_names[key]
            return "tuple[" + ", ".join(self.py_type(c) for c in param["components"]) + "]"
        if typ.startswith(("uint", "int")):
            return "int"
        if typ in ("address", "string"):
            return "str"
        if typ == "bool":
            return "bool"
        if typ.startswith("bytes") or typ == "function":
            return "bytes"
        return "Any"

    # -- rendering ---------------------------------------------------------------------------

    def render(self) -> str:
        classes = [self.render_contract(a) for a in self.artifacts if self._functions(a)]
        structs = [self.render_struct(q) for q in sorted(self.structs, key=self.struct_names.get)]
        names = sorted(
            [self.struct_names[q] for q in self.structs]
            + [a["contractName"] for a in self.artifacts if self._functions(a)]
            + [r.split("(")[0].removeprefix("class ") for r in self.results]
        )
        blocks = [*structs, *self.results, *classes]
        body = "\n".join(blocks)
        typing_names = [n for n in ("Any", "NamedTuple") if re.search(rf"\b{n}\b", body)]
        imports = ["from __future__ import annotations", ""]
        if typing_names:
            imports += [f"from typing import {', '.join(typing_names)}", ""]
        if classes:
            imports += ["from eth_account.signers.local import LocalAccount", ""]
        imports.append("from fedchain.chain.contract import BoundContract")
        transact = [n for n in ("BlockId", "TxResult") if re.search(rf"\b{n}\b", body)]
        if transact:
            imports.append(f"from fedchain.chain.transact import {', '.join(transact)}")
        out = [
            '"""Typed bindings of the FedChain contracts.',
            "",
            "GENERATED by scripts/gen_bindings.py from fedchain/contracts/*.json - do not edit;",
            "regenerate with ``python scripts/gen_bindings.py``. Method and argument names are the",
            "contracts' own (camelCase). Views return decoded values (structs as NamedTuples);",
            "transacting methods take ``*, sender, value=0, gas=None`` and return a TxResult.",
            '"""',
            "",
            "# NOQA-MARKER",
            *imports,
            "",
            *_wrap(
                "__all__ = [",
                [f'"{n}"' for n in sorted([*names, "BINDINGS"], key=_all_key)],
                "",
                0,
                close="]",
            ),
            "",
        ]
        for block in [*structs, *self.results, *classes]:
            out += ["", block]
        mapping = [
            f'"{a["contractName"]}": {a["contractName"]}'
            for a in self.artifacts
            if self._functions(a)
        ]
        out += ["", "#: Generated binding class by contract name.",
                *_wrap("BINDINGS: dict[str, type[BoundContract]] = {", mapping, "", 0, close="}"),
                ""]  # fmt: skip
        text = "\n".join(out)
        noqa = [code for code, used in (
            ("E501", any(len(line) > 100 for line in text.splitlines())),
            ("RUF012", any(s.startswith("    STRUCTS = {") and s != "    STRUCTS = {}"
                           for s in text.splitlines())),
        ) if used]  # fmt: skip
        marker = f"# ruff: noqa: {', '.join(noqa)}\n" if noqa else ""
        return text.replace("# NOQA-MARKER\n", marker)

    def render_struct(self, qualified: str) -> str:
        param = self.structs[qualified]
        cls = self.struct_names[qualified]
        lines = [f"class {cls}(NamedTuple):", f'    """Solidity struct ``{qualified}``."""', ""]
        used: set[str] = set()
        for component in param.get("components", []):
            field = identifier(component.get("name") or "field", used)
            used.add(field)
            lines.append(f"    {field}: {self.py_type(component)}{_shadow_note(field)}")
        return "\n".join(lines) + "\n"

    @staticmethod
    def _functions(artifact: Mapping[str, Any]) -> list[dict[str, Any]]:
        fns = [e for e in artifact.get("abi", []) if e.get("type") == "function"]
        return sorted(fns, key=lambda e: (e["name"], entry_signature(e)))

    def _doc(self, artifact: Mapping[str, Any], entry: Mapping[str, Any]) -> list[str]:
        sig = entry_signature(entry)
        user = artifact.get("userdoc", {}).get("methods", {}).get(sig, {})
        dev = artifact.get("devdoc", {}).get("methods", {}).get(sig, {})
        text = [_paragraph(s) for s in (user.get("notice"), dev.get("details")) if s]
        mutability = entry.get("stateMutability", "nonpayable")
        text.append(f"Solidity: ``{sig}`` ({mutability}).")
        return text

    def render_contract(self, artifact: Mapping[str, Any]) -> str:
        name = artifact["contractName"]
        notice = artifact.get("userdoc", {}).get("notice") or artifact.get("devdoc", {}).get(
            "title"
        )
        doc = _paragraph(notice) if notice else f"Binding of the ``{name}`` contract."
        struct_keys = sorted({k for e in artifact.get("abi", []) for k in self._entry_structs(e)})
        lines = [f"class {name}(BoundContract):", *_docstring(doc, 4), "",
                 f'    CONTRACT_NAME = "{name}"']  # fmt: skip
        mapping = [f'"{k}": {self.struct_names[k]}' for k in struct_keys]
        lines += _wrap("STRUCTS = {", mapping, "", 4, close="}")
        functions = self._functions(artifact)
        counts: dict[str, int] = {}
        for entry in functions:
            counts[entry["name"]] = counts.get(entry["name"], 0) + 1
        used: set[str] = set(RESERVED_METHODS)
        for entry in functions:
            base = entry["name"]
            if counts[base] > 1:
                base += "_" + "_".join(re.sub(r"\W", "", param_type(p)) for p in entry["inputs"])
            method = identifier(base, used)
            used.add(method)
            lines += ["", *self.render_method(artifact, entry, method)]
        return "\n".join(lines) + "\n"

    def _entry_structs(self, entry: Mapping[str, Any]) -> set[str]:
        found: set[str] = set()

        def walk(param: Mapping[str, Any]) -> None:
            key = self._struct_key(param) if str(param["type"]).startswith("tuple") else ""
            if key:
                found.add(key)
            for component in param.get("components", []):
                walk(component)

        for param in [*entry.get("inputs", []), *entry.get("outputs", [])]:
            walk(param)
        return found

    def render_method(
        self, artifact: Mapping[str, Any], entry: Mapping[str, Any], method: str
    ) -> list[str]:
        view = entry.get("stateMutability") in ("view", "pure")
        reserved = VIEW_KEYWORDS if view else TX_KEYWORDS
        args: list[str] = []
        params: list[str] = []
        for i, param in enumerate(entry.get("inputs", [])):
            arg = identifier(param.get("name") or f"arg{i}", reserved | set(args))
            args.append(arg)
            params.append(f"{arg}: {self.py_type(param)}")
        sig = entry_signature(entry)
        call_args = [f'"{sig}"', *args]
        doc = self._doc(artifact, entry)
        if view:
            outputs = entry.get("outputs", [])
            ret, wrap = self._return_type(artifact["contractName"], entry["name"], outputs)
            head = ["self", *params, "*", "sender: LocalAccount | str | None = None",
                    'block: BlockId = "latest"']  # fmt: skip
            call_items = [*call_args, "sender=sender", "block=block"]
            if wrap:
                body = _wrap(f"return {wrap}(*self.call_function(", call_items, ")", 8)
                if len(body) > 1:  # the nested form ruff format produces
                    inner = _wrap("*self.call_function(", call_items, "", 12)
                    body = [f"        return {wrap}(", *inner, "        )"]
            else:
                body = _wrap("return self.call_function(", call_items, "", 8)
        else:
            ret = "TxResult"
            head = ["self", *params, "*", "sender: LocalAccount", "value: int = 0",
                    "gas: int | None = None"]  # fmt: skip
            call_items = [*call_args, "sender=sender", "value=value", "gas=gas"]
            body = _wrap("return self.transact(", call_items, "", 8)
        return [*_wrap(f"def {method}(", head, f" -> {ret}:", 4), *_docstring("\n\n".join(doc), 8),
                *body]  # fmt: skip

    def _return_type(
        self, contract: str, fn: str, outputs: list[dict[str, Any]]
    ) -> tuple[str, str]:
        if not outputs:
            return "None", ""
        if len(outputs) == 1:
            return self.py_type(outputs[0]), ""
        names = [o.get("name") for o in outputs]
        if all(names) and len(set(names)) == len(names):
            cls = f"{contract}{fn[0].upper()}{fn[1:]}Result"
            if not any(r.startswith(f"class {cls}(") for r in self.results):
                fields = [
                    f"    {identifier(str(o['name']))}: {self.py_type(o)}"
                    f"{_shadow_note(identifier(str(o['name'])))}"
                    for o in outputs
                ]
                self.results.append("\n".join(
                    [f"class {cls}(NamedTuple):",
                     f'    """Return values of ``{contract}.{fn}``."""', "", *fields]) + "\n"
                )  # fmt: skip
            return cls, cls
        return "tuple[" + ", ".join(self.py_type(o) for o in outputs) + "]", ""


def _wrap(head: str, items: list[str], tail: str, indent: int, close: str = ")") -> list[str]:
    """``head(items)tail`` on one line if it fits in 100 columns, else one item per line with a
    trailing comma (a form ruff format keeps as it is)."""
    pad = " " * indent
    line = f"{pad}{head}{', '.join(items)}{close}{tail}"
    if len(line) <= 100 or not items:
        return [line]
    return [f"{pad}{head}", *[f"{pad}    {item}," for item in items], f"{pad}{close}{tail}"]


def _shadow_note(field: str) -> str:
    """NamedTuple fields named like tuple methods are legal but trip type checkers."""
    return "  # type: ignore[assignment]" if field in ("count", "index") else ""


def _all_key(name: str) -> tuple[int, str]:
    """isort-style order of ``__all__`` (constants, classes, the rest), as ruff's RUF022 wants."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


def _paragraph(natspec: str, width: int = 88) -> str:
    """NatSpec text with the source's line-continuation indentation folded, wrapped to ``width``."""
    return textwrap.fill(" ".join(natspec.split()), width=width)


def _docstring(text: str, indent: int) -> list[str]:
    pad = " " * indent
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = text.strip().splitlines() or [""]
    if len(lines) == 1:
        return [f'{pad}"""{lines[0]}"""']
    return [f'{pad}"""{lines[0]}', *[f"{pad}{ln}".rstrip() for ln in lines[1:]], f'{pad}"""']


def load_artifacts(directory: Path) -> list[dict[str, Any]]:
    artifacts = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        data.setdefault("contractName", path.stem)
        artifacts.append(data)
    return artifacts


def render_bindings(artifacts: list[dict[str, Any]]) -> str:
    """The bindings module's source for these artifact JSON objects (deterministic)."""
    return Generator(artifacts).render()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if --out is stale")
    args = parser.parse_args(argv)
    source = render_bindings(load_artifacts(args.artifacts))
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != source:
            print(f"{args.out} is stale: run 'python scripts/gen_bindings.py'", file=sys.stderr)
            return 1
        print(f"{args.out} is fresh")
        return 0
    args.out.write_text(source)
    print(f"wrote {args.out} ({len(load_artifacts(args.artifacts))} artifacts)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
