"""The task file's exception and the one way its messages name where a problem is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedchain.errors import ConfigError

__all__ = ["TaskFileError", "kind_of", "located_error"]


class TaskFileError(ConfigError):
    """A task file or manifest that cannot be used; the message names the file, section and key,
    e.g. ``task.toml: [rewards] client_mortgage: ...``."""


def located_error(
    source: str | None, section: str | None, key: str | None, problem: str
) -> TaskFileError:
    """``problem`` prefixed with whichever of ``source``, ``[section]`` and ``key`` are given."""
    where = " ".join(p for p in (f"[{section}]" if section else None, key) if p)
    parts = [p for p in (source, where) if p]
    return TaskFileError(": ".join([*parts, problem]))


def kind_of(value: Any) -> str:
    """The TOML/JSON name of ``value``'s type, for messages (``"integer"``, ``"table"``, ...)."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    if isinstance(value, Mapping):
        return "table"
    return names.get(type(value), type(value).__name__)
