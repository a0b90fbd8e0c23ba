"""The shared registry behind DP mechanisms, attacks and rules: names, duplicates, parameters."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fedchain.errors import ConfigError
from fedchain.registry import Registry


def test_register_get_build_and_errors() -> None:
    parts: Registry[type] = Registry("widget", error=ConfigError)

    @parts.register("gear")
    @dataclass(frozen=True, kw_only=True)
    class Gear:
        teeth: int
        pitch: float = 1.0

    assert Gear.name == "gear"  # type: ignore[attr-defined]
    assert parts.names() == ["gear"] and "gear" in parts and parts.get("gear") is Gear
    assert parts.build("gear", teeth=12) == Gear(teeth=12)
    with pytest.raises(ConfigError, match=r"unknown widget 'cog'; known: gear"):
        parts.get("cog")
    with pytest.raises(ConfigError, match=r"unknown parameters \['colour'\] for 'gear'"):
        parts.build("gear", teeth=1, colour="red")
    with pytest.raises(ConfigError, match=r"gear: .*teeth"):
        parts.build("gear")
    with pytest.raises(ConfigError, match="widget 'gear' is already registered"):
        parts.register("gear")(Gear)


def test_replacing_registry_takes_the_last_part() -> None:
    rules: Registry[object] = Registry("rule", error=ConfigError, replace=True)
    rules.register("r")(len)
    rules.register("r")(max)
    assert rules.get("r") is max
