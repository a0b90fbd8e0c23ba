"""Lazy package namespaces (PEP 562): a package lists its public names and the submodules that
define them, and each submodule is imported on first use, so ``import fedchain.chain`` (and the
CLI's lightest commands) do not pay for web3, torch or numpy until something needs them."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, which exports each public name from
    the submodule ``exports[name]``.

    A name that is a submodule of its own (``"errors": "fedchain.chain.errors"``) is that
    module; any other is the attribute of that name in its submodule. The value is cached in
    the package, so ``__getattr__`` runs once per name.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(module_name)
        own_module = module_name == f"{package}.{name}" and not hasattr(module, name)
        value = module if own_module else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
