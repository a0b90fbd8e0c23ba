"""RPC URLs fit to print: API keys and passwords in a node's URL never reach a log line.

Standard library only, so the lightest commands can use it.
"""

from __future__ import annotations

from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["redact_url", "scrub_url", "split_url", "url_has_credentials"]


def split_url(url: str) -> SplitResult | None:
    """``url`` split, or None when it is no ``scheme://host`` URL."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None
    return parts if parts.scheme and parts.netloc else None


def _beyond_host(parts: SplitResult) -> bool:
    return parts.path not in ("", "/") or bool(parts.query) or bool(parts.fragment)


def url_has_credentials(url: str) -> bool:
    """Whether ``url`` may carry credentials: a user or password, a path beyond ``/``, a query
    (an API key often sits in one of them), or whether it is no ``scheme://host`` URL at all."""
    parts = split_url(url)
    return parts is None or "@" in parts.netloc or _beyond_host(parts)


def redact_url(url: str) -> str:
    """``url`` fit to print: ``scheme://host[:port]``, with ``***@`` for a user or password and
    ``/***`` for a path beyond ``/`` or a query (``https://host/v3/KEY`` → ``https://host/***``).

    A URL without credentials comes back as it is; a string that is no ``scheme://host`` URL
    becomes ``***`` (``scheme:***`` when it starts like one).
    """
    parts = split_url(url)
    if parts is None:
        scheme, colon, _ = url.partition(":")
        return f"{scheme}:***" if colon and scheme.isalpha() else "***"
    _, at, host = parts.netloc.rpartition("@")
    shown = f"{parts.scheme}://{'***@' if at else ''}{host}"
    return shown + ("/***" if _beyond_host(parts) else parts.path)


def _url_secrets(url: str) -> list[str]:
    """The pieces of ``url`` that must not be printed, longest first."""
    parts = split_url(url)
    if parts is None:
        return [url]
    pieces = [url, parts.netloc.rpartition("@")[0]]
    if _beyond_host(parts):
        pieces += [parts.path, parts.query, parts.fragment]
    pieces += [unquote(p) for p in pieces]
    return sorted({p for p in pieces if p and p != "/"}, key=len, reverse=True)


def scrub_url(text: str, url: str) -> str:
    """``text`` with ``url`` redacted and every secret piece of it (user, password, path,
    query, also percent-decoded) replaced by ``***``."""
    text = text.replace(url, redact_url(url))
    for secret in _url_secrets(url):
        text = text.replace(secret, "***")
    return text
