"""Read a small JSON file a user named, with one readable error for each way it can be wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["read_json_file"]


def read_json_file(
    path: Path, *, what: str, error: Callable[[str], Exception], missing_hint: str = ""
) -> Any:
    """The parsed contents of ``path``.

    Args:
        path: the file.
        what: how messages name it (``"keystore"``, ``"deployment file"``).
        error: builds the exception raised for a missing, unreadable or non-JSON file.
        missing_hint: appended to the message for a missing file (how to make one).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        hint = f": {missing_hint}" if missing_hint else ""
        raise error(f"no {what} {path}{hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise error(f"cannot read {what} {path}: {reason}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise error(f"{what} {path} is not JSON") from None
