"""``KuboStore``: blobs on a Kubo (go-ipfs) node, through its HTTP RPC API (``/api/v0``).

Spoken with httpx, not ``ipfshttpclient`` (unmaintained; it refuses every Kubo since 0.8).
Every RPC call is a POST. Trust nothing the node says: the CID that ``add`` reports must equal
the CID computed here (the import settings are passed explicitly so it is predictable), and the
bytes ``cat`` returns must hash to the requested CID. Connection failures and 5xx answers that
are not Kubo command errors are retried with exponential backoff; a Kubo command error (HTTP 500
with Kubo's ``{"Message", "Code", "Type": "error"}`` body) is final.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from fedchain.storage.base import DEFAULT_MAX_BLOB_BYTES, BlobStore
from fedchain.storage.cid import (
    DEFAULT_IMPORT,
    DEFAULT_MAX_LINKS,
    ImportParams,
    compute_cid,
    compute_cid_file,
    parse_cid,
    verify_cid,
    verify_cid_file,
)
from fedchain.storage.errors import (
    BlobNotFoundError,
    BlobTooLargeError,
    CIDMismatchError,
    CorruptBlobError,
    InvalidCIDError,
    KuboAPIError,
    KuboTimeoutError,
    KuboUnavailableError,
    OutputExistsError,
    StoreConfigError,
)
from fedchain.storage.fsutil import atomic_output

__all__ = ["DEFAULT_KUBO_API", "KuboStore"]

DEFAULT_KUBO_API = "http://127.0.0.1:5001"
_NOT_FOUND = ("not found", "could not find", "no link named")
_RETRY_STATUS = frozenset({500, 502, 503, 504})

Files = Callable[[], dict[str, Any]]


def _kubo_message(raw: bytes) -> str | None:
    """The ``Message`` of a Kubo command error body, or None if the body is something else."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("Type") == "error" and "Message" in body:
        return str(body["Message"])
    return None


class KuboStore(BlobStore):
    """Blobs on a Kubo node at ``api_url`` (default ``http://127.0.0.1:5001``)."""

    def __init__(
        self,
        api_url: str = DEFAULT_KUBO_API,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        params: ImportParams = DEFAULT_IMPORT,
        offline: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(params=params, max_bytes=max_bytes)
        url = api_url.rstrip("/")
        if url.endswith("/api/v0"):
            url = url[: -len("/api/v0")]
        if not url.startswith(("http://", "https://")):
            raise StoreConfigError(f"Kubo API URL must start with http:// or https://: {api_url}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise StoreConfigError("timeout must be positive, retries and backoff non-negative")
        self.api_url = url
        self.retries = retries
        self.backoff = backoff
        self.offline = offline
        self._client = httpx.Client(
            base_url=url + "/api/v0/",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            trust_env=False,
        )

    def describe(self) -> str:
        return f"Kubo at {self.api_url}"

    def __repr__(self) -> str:
        return f"KuboStore({self.api_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    # -- transport ---------------------------------------------------------------------------

    def _send(
        self, endpoint: str, params: dict[str, str], files: Files | None = None
    ) -> httpx.Response:
        """POST with retries; the caller must close the returned (streamed) response."""
        detail = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            opened = files() if files is not None else None
            try:
                request = self._client.build_request("POST", endpoint, params=params, files=opened)
                response = self._client.send(request, stream=True)
            except httpx.ConnectTimeout as exc:
                detail = f"connect timeout ({exc})"
                continue
            except httpx.TimeoutException as exc:
                raise KuboTimeoutError(
                    f"Kubo at {self.api_url} did not answer {endpoint} in time ({exc})"
                ) from None
            except httpx.TransportError as exc:
                detail = f"{type(exc).__name__}: {exc}"
                continue
            finally:
                for value in (opened or {}).values():
                    handle = value[1] if isinstance(value, tuple) else value
                    if hasattr(handle, "close"):
                        handle.close()
            if response.status_code == 200:
                return response
            body = self._read_error_body(response)
            message = _kubo_message(body)
            if response.status_code in _RETRY_STATUS and message is None:
                detail = f"HTTP {response.status_code} from {endpoint}"
                continue
            if message is not None and any(s in message.lower() for s in _NOT_FOUND):
                raise BlobNotFoundError(params.get("arg", "?"), self.describe())
            text = message or body[:200].decode("utf-8", "replace") or "(no message)"
            raise KuboAPIError(endpoint, response.status_code, text)
        raise KuboUnavailableError(self.api_url, f"{detail} after {self.retries + 1} attempt(s)")

    @staticmethod
    def _read_error_body(response: httpx.Response, limit: int = 65_536) -> bytes:
        """At most ``limit`` bytes of an error answer (a hostile node could send gigabytes)."""
        body = b""
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= limit:
                    break
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        return body[:limit]

    @contextlib.contextmanager
    def _stream(
        self, endpoint: str, params: dict[str, str], files: Files | None = None
    ) -> Iterator[httpx.Response]:
        response = self._send(endpoint, params, files)
        try:
            yield response
        except httpx.TimeoutException as exc:
            raise KuboTimeoutError(
                f"Kubo at {self.api_url} stalled during {endpoint} ({exc})"
            ) from None
        except httpx.TransportError as exc:
            raise KuboUnavailableError(self.api_url, f"{endpoint} broke off: {exc}") from None
        finally:
            response.close()

    def _json(self, endpoint: str, params: dict[str, str], files: Files | None = None) -> Any:
        with self._stream(endpoint, params, files) as response:
            body = response.read()
        try:
            return json.loads(body)
        except ValueError:
            raise KuboAPIError(endpoint, 200, "the answer is not JSON") from None

    def _ndjson(
        self, endpoint: str, params: dict[str, str], files: Files | None = None
    ) -> list[Any]:
        with self._stream(endpoint, params, files) as response:
            lines = [line for line in response.iter_lines() if line.strip()]
        try:
            return [json.loads(line) for line in lines]
        except ValueError:
            raise KuboAPIError(endpoint, 200, "the answer is not JSON lines") from None

    # -- the store ---------------------------------------------------------------------------

    def version(self) -> str:
        """Kubo's version string (also a cheap reachability check)."""
        answer = self._json("version", {})
        if not isinstance(answer, dict) or "Version" not in answer:
            raise KuboAPIError("version", 200, "no Version in the answer")
        return str(answer["Version"])

    def _add_params(self, pin: bool) -> dict[str, str]:
        p = self.params
        params = {
            "cid-version": str(p.cid_version),
            "raw-leaves": "true" if p.raw_leaves else "false",
            "chunker": p.chunker,
            "hash": p.hash,
            "trickle": "true" if p.layout == "trickle" else "false",
            "pin": "true" if pin else "false",
            "progress": "false",
        }
        if p.max_links != DEFAULT_MAX_LINKS:  # only recent Kubo knows this option
            params["max-file-links"] = str(p.max_links)
        return params

    def _add(self, files: Files, expected: str, pin: bool) -> str:
        events = self._ndjson("add", self._add_params(pin), files)
        hashes = [e["Hash"] for e in events if isinstance(e, dict) and "Hash" in e]
        if not hashes:
            raise KuboAPIError("add", 200, "no Hash in the answer")
        got = str(hashes[-1])
        try:
            same = parse_cid(got).key == parse_cid(expected).key
        except InvalidCIDError:
            same = False
        if not same:
            raise CIDMismatchError(expected, got, self.describe())
        return expected

    def put(self, data: bytes, *, pin: bool = True) -> str:
        """Add ``data`` to Kubo; check that Kubo's CID equals ours; return it."""
        self._check_size(len(data), None, "blob")
        expected = compute_cid(data, params=self.params)
        return self._add(
            lambda: {"file": ("blob", data, "application/octet-stream")}, expected, pin
        )

    def put_file(self, path: str | os.PathLike[str], *, pin: bool = True) -> str:
        """Add the file at ``path`` (streamed upload), checking Kubo's CID against ours."""
        size = os.stat(path).st_size
        self._check_size(size, None, f"file {path}")
        expected = compute_cid_file(path, params=self.params)
        name = Path(path).name or "blob"
        return self._add(
            lambda: {"file": (name, open(path, "rb"), "application/octet-stream")},
            expected,
            pin,
        )

    def _cat_params(self, cid: str) -> dict[str, str]:
        params = {"arg": parse_cid(cid).encode()}
        if self.offline:
            params["offline"] = "true"
        return params

    def _chunks(self, cid: str, limit: int) -> Iterator[bytes]:
        with self._stream("cat", self._cat_params(cid)) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise BlobTooLargeError(f"blob {cid} of {declared} bytes exceeds {limit} bytes")
            total = 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > limit:
                    raise BlobTooLargeError(f"blob {cid} exceeds the {limit}-byte limit")
                yield chunk

    def get(self, cid: str, *, max_bytes: int | None = None) -> bytes:
        """``cat`` the blob (streamed, size-limited) and check it against ``cid``."""
        parsed = parse_cid(cid)
        data = b"".join(self._chunks(cid, self._limit(max_bytes)))
        if not verify_cid(data, parsed, params=self.params):
            raise CorruptBlobError(cid, f"served by {self.describe()}")
        return data

    def get_file(
        self,
        cid: str,
        dest: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        max_bytes: int | None = None,
    ) -> Path:
        """Stream the blob into ``dest`` atomically; check it before it appears there."""
        parsed = parse_cid(cid)
        dest_path = Path(dest)
        if dest_path.exists() and not overwrite:
            raise OutputExistsError(str(dest_path))
        with atomic_output(dest_path, overwrite=overwrite) as out:
            for chunk in self._chunks(cid, self._limit(max_bytes)):
                out.write(chunk)
            out.seek(0)
            if not verify_cid_file(out, parsed, params=self.params):
                raise CorruptBlobError(cid, f"served by {self.describe()}")
        return dest_path

    def has(self, cid: str) -> bool:
        """True if the node holds the whole DAG of ``cid`` locally (``files/stat --with-local``,
        offline, so it never searches the network)."""
        params = {
            "arg": f"/ipfs/{parse_cid(cid).encode()}",
            "with-local": "true",
            "offline": "true",
        }
        try:
            answer = self._json("files/stat", params)
        except (BlobNotFoundError, KuboAPIError):
            return False
        return bool(isinstance(answer, dict) and answer.get("Local"))

    def pin(self, cid: str) -> None:
        """Pin ``cid`` recursively (the node fetches it if it must)."""
        self._json("pin/add", {"arg": parse_cid(cid).encode()})

    def unpin(self, cid: str) -> bool:
        """Remove a recursive pin; False if ``cid`` was not pinned."""
        try:
            self._json("pin/rm", {"arg": parse_cid(cid).encode()})
        except KuboAPIError as exc:
            if "not pinned" in exc.message.lower():
                return False
            raise
        except BlobNotFoundError:
            return False
        return True

    def pins(self) -> list[str]:
        """Recursively pinned CIDs (CIDv1 base32), sorted."""
        answer = self._json("pin/ls", {"type": "recursive"})
        keys = answer.get("Keys", {}) if isinstance(answer, dict) else {}
        return sorted(parse_cid(k).key for k in (keys or {}))

    def gc(self) -> list[str]:
        """Run the node's ``repo gc``; return the CIDs it removed."""
        removed = []
        for event in self._ndjson("repo/gc", {}):
            if not isinstance(event, dict):
                continue
            if event.get("Error"):
                raise KuboAPIError("repo/gc", 200, str(event["Error"]))
            key = event.get("Key")
            if isinstance(key, dict) and "/" in key:
                removed.append(parse_cid(key["/"]).key)
        return removed
