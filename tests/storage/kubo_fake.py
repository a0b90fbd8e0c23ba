"""A small fake Kubo RPC server on 127.0.0.1: real HTTP in a thread, just the endpoints
KuboStore uses, CIDs computed with compute_cid. Knobs make it misbehave on purpose."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from fedchain.storage.cid import ImportParams, compute_cid, parse_cid

__all__ = ["FakeKubo", "Knobs"]


@dataclass
class Knobs:
    """How the fake node misbehaves."""

    fail_first: int = 0  # answer this many requests with a bare HTTP 503 first
    lie_about_cid: bool = False  # report another CID for an add
    tamper: bool = False  # flip a byte of every cat answer
    extra_bytes: int = 0  # append this many bytes to every cat answer
    cat_declared_length: int | None = None  # a Content-Length header to send on cat
    delay: float = 0.0  # sleep before answering (to trigger client timeouts)
    ignore_import_options: bool = False  # use Kubo's CIDv0 defaults whatever the options say


@dataclass
class _State:
    blobs: dict[str, bytes] = field(default_factory=dict)
    pins: set[str] = field(default_factory=set)
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)


def _multipart_file(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    for part in body.split(b"--" + boundary):
        head, sep, payload = part.partition(b"\r\n\r\n")
        if sep and b"filename=" in head:
            return payload[:-2] if payload.endswith(b"\r\n") else payload
    raise ValueError("no file part in the multipart body")


class FakeKubo:
    """``with FakeKubo() as node: KuboStore(node.url)``."""

    def __init__(self) -> None:
        self.knobs = Knobs()
        self.state = _State()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # Kubo's RPC refuses GET
                self._send(405, b"405 - Method Not Allowed", "text/plain")

            def do_POST(self) -> None:
                fake._handle(self)

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeKubo:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- request handling --------------------------------------------------------------------

    @staticmethod
    def _error(handler: BaseHTTPRequestHandler, message: str) -> None:
        body = json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode()
        handler._send(500, body)  # type: ignore[attr-defined]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        query = parse_qs(split.query)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        endpoint = split.path.removeprefix("/api/v0/")
        with self._lock:
            self.state.requests.append((endpoint, query))
            if self.knobs.fail_first > 0:
                self.knobs.fail_first -= 1
                h._send(503, b"service unavailable", "text/plain")  # type: ignore[attr-defined]
                return
        if self.knobs.delay:
            time.sleep(self.knobs.delay)
        arg = query.get("arg", [""])[0]
        send = h._send  # type: ignore[attr-defined]
        if endpoint == "version":
            send(200, json.dumps({"Version": "0.39.0-fake", "Commit": "", "Repo": "16"}).encode())
        elif endpoint == "add":
            self._add(h, query, _multipart_file(h.headers["Content-Type"], body))
        elif endpoint == "cat":
            data = self.state.blobs.get(_key(arg))
            if data is None:
                self._error(h, f"block was not found locally (offline): ipld: could not find {arg}")
                return
            if self.knobs.tamper and data:
                data = bytes([data[0] ^ 1]) + data[1:]
            data += b"x" * self.knobs.extra_bytes
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            if self.knobs.cat_declared_length is not None:
                h.send_header("Content-Length", str(self.knobs.cat_declared_length))
            else:
                h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            if self.knobs.cat_declared_length is not None:
                h.wfile.write(data)
                return
            for i in range(0, len(data), 65536):
                piece = data[i : i + 65536]
                h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            h.wfile.write(b"0\r\n\r\n")
        elif endpoint == "files/stat":
            key = _key(arg.removeprefix("/ipfs/"))
            if key not in self.state.blobs:
                self._error(h, "block was not found locally (offline)")
                return
            size = len(self.state.blobs[key])
            answer = {"Hash": arg, "Size": size, "WithLocality": True, "Local": True}
            send(200, json.dumps(answer).encode())
        elif endpoint == "pin/add":
            key = _key(arg)
            if key not in self.state.blobs:
                self._error(h, f"pin: merkledag: not found {arg}")
                return
            self.state.pins.add(key)
            send(200, json.dumps({"Pins": [arg]}).encode())
        elif endpoint == "pin/rm":
            key = _key(arg)
            if key not in self.state.pins:
                self._error(h, "not pinned or pinned indirectly")
                return
            self.state.pins.discard(key)
            send(200, json.dumps({"Pins": [arg]}).encode())
        elif endpoint == "pin/ls":
            keys = {k: {"Type": "recursive"} for k in sorted(self.state.pins)}
            send(200, json.dumps({"Keys": keys}).encode())
        elif endpoint == "repo/gc":
            gone = [k for k in self.state.blobs if k not in self.state.pins]
            for k in gone:
                del self.state.blobs[k]
            send(200, b"".join(json.dumps({"Key": {"/": k}}).encode() + b"\n" for k in gone))
        else:
            send(404, b"404 page not found", "text/plain")

    def _add(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]], data: bytes) -> None:
        def opt(name: str, default: str) -> str:
            return query.get(name, [default])[0]

        if self.knobs.ignore_import_options:
            params = ImportParams(cid_version=0)
        else:
            params = ImportParams(
                cid_version=int(opt("cid-version", "0")),
                raw_leaves=opt("raw-leaves", "") == "true" if "raw-leaves" in query else None,
                chunk_size=int(opt("chunker", "size-262144").removeprefix("size-")),
                max_links=int(opt("max-file-links", "174")),
                hash=opt("hash", "sha2-256"),
                layout="trickle" if opt("trickle", "false") == "true" else "balanced",
            )
        cid = compute_cid(data, params=params)
        key = _key(cid)
        self.state.blobs[key] = data
        if opt("pin", "true") == "true":
            self.state.pins.add(key)
        if self.knobs.lie_about_cid:
            cid = compute_cid(data + b"!", params=params)
        line = json.dumps({"Name": "blob", "Hash": cid, "Size": str(len(data))}).encode() + b"\n"
        h._send(200, line)  # type: ignore[attr-defined]


def _key(cid: str) -> str:
    return parse_cid(cid).key
