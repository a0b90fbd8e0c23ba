"""Named registries for FedChain's pluggable parts (DP mechanisms, attacks, rules, leader rules).

One small class serves every registry, so each one reports the same errors the same way::

    PRIVACY = Registry[type[PrivacyMechanism]]("privacy mechanism", error=PrivacyConfigError)

    @PRIVACY.register("feature_dp")
    @dataclass(frozen=True, kw_only=True)
    class FeatureDp(PrivacyMechanism): ...

    PRIVACY.build("feature_dp", epsilon=2.0)   # validated: unknown names and parameters raise
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, Generic, TypeVar

from fedchain.errors import FedChainError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Parts registered under names.

    Args:
        kind: what the parts are, for messages ("privacy mechanism", "verification rule").
        error: the exception raised for an unknown name, a duplicate or bad parameters.
        replace: whether registering a taken name replaces the part (else it raises).
    """

    def __init__(self, kind: str, *, error: type[FedChainError], replace: bool = False) -> None:
        self.kind = kind
        self.error = error
        self.replace = replace
        self._parts: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering a part under ``name``; a class also gets ``name`` as attribute."""

        def deco(part: T) -> T:
            if name in self._parts and not self.replace:
                raise self.error(f"{self.kind} {name!r} is already registered")
            if isinstance(part, type):
                part.name = name  # type: ignore[attr-defined]
            self._parts[name] = part
            return part

        return deco

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._parts)

    def get(self, name: str) -> T:
        """The part registered under ``name``; ``error`` naming the known ones if none."""
        try:
            return self._parts[name]
        except KeyError:
            raise self.error(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"
            ) from None

    def build(self, name: str, **params: Any) -> Any:
        """Instantiate the class registered under ``name`` with ``params``.

        Parameters must be fields of the (dataclass) part; unknown or missing ones raise
        ``error`` with the names that are allowed.
        """
        cls = self.get(name)
        known = {f.name for f in fields(cls)} if is_dataclass(cls) else set()
        unknown = set(params) - known
        if unknown:
            raise self.error(
                f"unknown parameters {sorted(unknown)} for {name!r}; known: {sorted(known)}"
            )
        try:
            return cls(**params)  # type: ignore[operator]
        except TypeError as exc:  # a required parameter is missing
            raise self.error(f"{name}: {exc}") from exc

    def __contains__(self, name: object) -> bool:
        return name in self._parts
