"""The lazy package namespaces (``fedchain.lazy``): every public name listed, and each resolves
to what its submodule defines."""

from __future__ import annotations

import importlib
import types

import pytest

LAZY = ("fedchain.chain", "fedchain.storage", "fedchain.verification", "fedchain.report")


@pytest.mark.parametrize("package", LAZY)
def test_every_public_name_is_exported_and_resolves(package: str) -> None:
    module = importlib.import_module(package)
    exports = module._EXPORTS
    assert set(exports) == set(module.__all__)
    for name, where in exports.items():
        value = getattr(module, name)
        source = importlib.import_module(where)
        if isinstance(value, types.ModuleType):
            assert value is source and where == f"{package}.{name}"
        else:
            assert value is getattr(source, name)
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_a_function_named_like_its_module_stays_the_function() -> None:
    import fedchain.verification.multikrum  # noqa: F401  (the submodule first)
    from fedchain.verification import fedavg, multikrum

    assert callable(multikrum) and not isinstance(multikrum, types.ModuleType)
    assert callable(fedavg) and not isinstance(fedavg, types.ModuleType)
