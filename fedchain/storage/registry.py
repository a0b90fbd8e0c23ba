"""Store registry: turn a spec such as ``local:DIR``, ``kubo:URL``, a path or a URL into a store.

Other backends register a factory with :func:`register_store` (the scheme before the colon)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from fedchain.storage.base import BlobStore
from fedchain.storage.errors import StoreConfigError

__all__ = [
    "DEFAULT_STORE_DIR",
    "ENV_KUBO_API",
    "ENV_STORE",
    "default_store_spec",
    "open_store",
    "register_store",
    "store_scheme",
    "store_schemes",
]

ENV_STORE = "FEDCHAIN_STORE"
ENV_KUBO_API = "FEDCHAIN_KUBO_API"
DEFAULT_STORE_DIR = "~/.fedchain/store"

StoreFactory = Callable[..., BlobStore]
_FACTORIES: dict[str, StoreFactory] = {}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.*)", re.DOTALL)


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make ``open_store("SCHEME:rest")`` call ``factory(rest, **options)``."""
    if not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or scheme in ("http", "https"):
        raise StoreConfigError(f"invalid store scheme {scheme!r}")
    _FACTORIES[scheme] = factory


def store_schemes() -> list[str]:
    """The registered schemes."""
    return sorted(_FACTORIES)


def _local(rest: str, **options: Any) -> BlobStore:
    from fedchain.storage.local import LocalStore

    if not rest.strip():
        raise StoreConfigError("local: needs a directory, as in local:/var/fedchain/store")
    return LocalStore(rest, **options)


def _kubo(rest: str, **options: Any) -> BlobStore:
    from fedchain.storage.kubo import DEFAULT_KUBO_API, KuboStore

    return KuboStore(rest or DEFAULT_KUBO_API, **options)


register_store("local", _local)
register_store("kubo", _kubo)


def _split(spec: str | os.PathLike[str]) -> tuple[str, str]:
    """``(scheme, rest)`` of a store spec: ``("local", DIR)`` for a plain path, ``("kubo", URL)``
    for an ``http(s)://`` URL."""
    if isinstance(spec, os.PathLike):
        return "local", os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise StoreConfigError("empty store specification")
    text = spec.strip()
    if text.startswith(("http://", "https://")):
        return "kubo", text
    match = _SCHEME.fullmatch(text)
    if match and "/" not in match.group(1) and len(match.group(1)) > 1:
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in _FACTORIES:
            raise StoreConfigError(
                f"unknown store type {scheme!r} in {spec!r}; known: {', '.join(store_schemes())}"
                " (write ./PATH for a directory whose name has a colon)"
            )
        return scheme, rest
    return "local", text


def store_scheme(spec: str | os.PathLike[str]) -> str:
    """The scheme :func:`open_store` would use for ``spec`` (``"local"``, ``"kubo"``...).

    Raises:
        StoreConfigError: an empty spec or an unknown scheme.
    """
    return _split(spec)[0]


def open_store(spec: str | os.PathLike[str], **options: Any) -> BlobStore:
    """Open the store named by ``spec``.

    * ``local:DIR`` or a plain path: a :class:`LocalStore` in ``DIR`` (created if needed);
    * ``kubo:URL``, ``kubo:`` (``http://127.0.0.1:5001``) or an ``http(s)://`` URL: a
      :class:`KuboStore`;
    * ``SCHEME:...`` for a scheme added with :func:`register_store`.

    ``options`` go to the store's constructor (``max_bytes``, ``params``, ``timeout``...).

    Raises:
        StoreConfigError: an empty spec, an unknown scheme, or ``local:`` without a directory.
    """
    if isinstance(spec, os.PathLike):
        from fedchain.storage.local import LocalStore

        return LocalStore(spec, **options)
    scheme, rest = _split(spec)
    return _FACTORIES[scheme](rest, **options)


def default_store_spec(environ: Mapping[str, str] | None = None) -> str:
    """``$FEDCHAIN_STORE`` if set, else ``kubo:$FEDCHAIN_KUBO_API`` if set, else
    ``local:~/.fedchain/store``."""
    env = os.environ if environ is None else environ
    if env.get(ENV_STORE, "").strip():
        return env[ENV_STORE].strip()
    if env.get(ENV_KUBO_API, "").strip():
        return "kubo:" + env[ENV_KUBO_API].strip()
    return "local:" + DEFAULT_STORE_DIR
