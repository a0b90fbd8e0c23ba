"""CIDs computed exactly as Kubo's ``ipfs add`` computes them, in memory or streaming.

The default is ``ipfs add --cid-version=1``: UnixFS, 256 KiB fixed-size chunks, balanced layout
with at most 174 links per node, raw leaves, sha2-256, printed as multibase base32 (``b...``).
``cid_version=0`` gives Kubo's historical default (dag-pb leaves, base58btc ``Qm...``).

The chain stores a CID as its 32-byte sha2-256 digest plus its codec: :func:`cid_to_digest`
and :func:`digest_to_cid` convert between the two.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from typing import BinaryIO

from fedchain.storage.errors import CIDParameterError
from fedchain.storage.multiformats import (
    CID,
    CODEC_DAG_PB,
    CODEC_RAW,
    cid_to_digest,
    digest_to_cid,
    parse_cid,
)
from fedchain.storage.unixfs import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_LINKS,
    ChunkReader,
    DagBuilder,
    ImportParams,
    Link,
)

__all__ = [
    "CID",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "DEFAULT_IMPORT",
    "KNOWN_PROFILES",
    "ImportParams",
    "cid_to_digest",
    "compute_cid",
    "compute_cid_file",
    "compute_directory_cid",
    "digest_to_cid",
    "parse_cid",
    "verify_cid",
    "verify_cid_file",
]

#: ``ipfs add --cid-version=1``: what FedChain uses for every blob.
DEFAULT_IMPORT = ImportParams()

#: Import settings Kubo users meet in practice, tried by :func:`verify_cid` after the caller's.
KNOWN_PROFILES: tuple[ImportParams, ...] = (
    DEFAULT_IMPORT,
    ImportParams(cid_version=0),  # Kubo's default and profile unixfs-v0-2015
    ImportParams(cid_version=1, chunk_size=1_048_576, max_links=1024),  # unixfs-v1-2025
    ImportParams(cid_version=1, raw_leaves=False),
    ImportParams(cid_version=0, raw_leaves=True),
)

_Source = str | os.PathLike[str] | BinaryIO


def _params(
    params: ImportParams | None,
    cid_version: int,
    raw_leaves: bool | None,
    chunk_size: int,
    max_links: int,
    hash: str,
    layout: str,
) -> ImportParams:
    if params is not None:
        return params
    return ImportParams(
        cid_version=cid_version,
        raw_leaves=raw_leaves,
        chunk_size=chunk_size,
        max_links=max_links,
        hash=hash,
        layout=layout,
    )


def _root_cid(link: Link) -> str:
    return parse_cid(link.cid).encode()


def _bytes_reader(data: bytes | bytearray | memoryview) -> Callable[[int], memoryview]:
    view = memoryview(data).cast("B")
    pos = 0

    def read(n: int) -> memoryview:
        nonlocal pos
        chunk = view[pos : pos + n]
        pos += len(chunk)
        return chunk

    return read


def compute_cid(
    data: bytes | bytearray | memoryview,
    *,
    cid_version: int = 1,
    raw_leaves: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    hash: str = "sha2-256",
    layout: str = "balanced",
    params: ImportParams | None = None,
) -> str:
    """The CID ``ipfs add`` prints for a file holding ``data``.

    ``raw_leaves=None`` is Kubo's default for the version (True for CIDv1, False for CIDv0).
    ``params`` (an :class:`ImportParams`) overrides the individual settings.
    """
    p = _params(params, cid_version, raw_leaves, chunk_size, max_links, hash, layout)
    return _root_cid(DagBuilder(p).build(ChunkReader(_bytes_reader(data), p.chunk_size)))


def _stream_root(
    source: _Source, params: ImportParams, tee: Callable[[bytes | memoryview], object] | None
) -> tuple[Link, int]:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return _stream_root(fh, params, tee)
    read = getattr(source, "read", None)
    if read is None:
        raise CIDParameterError(f"not a path or a binary file object: {type(source).__name__}")
    if isinstance(source, io.TextIOBase):
        raise CIDParameterError("the file object must be opened in binary mode")
    reader = ChunkReader(read, params.chunk_size, tee=tee)
    return DagBuilder(params).build(reader), reader.total


def compute_cid_file(
    source: _Source,
    *,
    cid_version: int = 1,
    raw_leaves: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    hash: str = "sha2-256",
    layout: str = "balanced",
    params: ImportParams | None = None,
    tee: Callable[[bytes | memoryview], object] | None = None,
) -> str:
    """Like :func:`compute_cid` for a path or a binary file object, read chunk by chunk.

    Memory stays at about one chunk plus one open node per tree level, whatever the size.
    ``tee``, if given, is called with every chunk in order (to copy while hashing).
    """
    p = _params(params, cid_version, raw_leaves, chunk_size, max_links, hash, layout)
    link, _ = _stream_root(source, p, tee)
    return _root_cid(link)


def compute_directory_cid(
    entries: Mapping[str, bytes],
    *,
    cid_version: int = 1,
    raw_leaves: bool | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_links: int = DEFAULT_MAX_LINKS,
    hash: str = "sha2-256",
    layout: str = "balanced",
    params: ImportParams | None = None,
) -> str:
    """The CID of ``ipfs add -r`` on a directory holding ``entries`` (``"a/b.txt" -> bytes``).

    Directories are basic UnixFS directories (no HAMT sharding, no mode or mtime); the name of
    the added directory itself does not enter its CID.
    """
    p = _params(params, cid_version, raw_leaves, chunk_size, max_links, hash, layout)
    builder = DagBuilder(p)
    tree: dict[str, object] = {}
    for path, content in entries.items():
        parts = path.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise CIDParameterError(f"bad relative path in a directory: {path!r}")
        node = tree
        for part in parts[:-1]:
            sub = node.setdefault(part, {})
            if not isinstance(sub, dict):
                raise CIDParameterError(f"{path!r}: {part!r} is both a file and a directory")
            node = sub
        if parts[-1] in node:
            raise CIDParameterError(f"duplicate path {path!r}")
        node[parts[-1]] = bytes(content)

    def build(node: dict[str, object]) -> Link:
        links: dict[str, Link] = {}
        for name, child in node.items():
            if isinstance(child, dict):
                links[name] = build(child)
            else:
                assert isinstance(child, bytes)
                links[name] = builder.build(ChunkReader(_bytes_reader(child), p.chunk_size))
        return builder.directory_node(links)

    return _root_cid(build(tree))


def _candidates(cid: CID, first: ImportParams | None) -> list[ImportParams]:
    """``first``, then the known profiles, adapted to the CID's hash function. The version of
    the CID text says nothing about the DAG (``--cid-base=base32`` shows a CIDv0 DAG as a
    CIDv1), so profiles of the other version are tried too, last."""
    out: list[ImportParams] = []
    for p in (first, *KNOWN_PROFILES):
        if p is None:
            continue
        if p.hash_function.code != cid.hash_code:
            p = ImportParams(
                cid_version=1,
                raw_leaves=p.raw_leaves,
                chunk_size=p.chunk_size,
                max_links=p.max_links,
                hash=cid.hash_function.name,
                layout=p.layout,
            )
        if p not in out:
            out.append(p)
    head, tail = out[:1], out[1:]
    return head + sorted(tail, key=lambda p: p.cid_version != cid.version)


def verify_cid(
    data: bytes | bytearray | memoryview, cid: str | CID, *, params: ImportParams | None = None
) -> bool:
    """True if ``data`` is the file that ``cid`` addresses.

    A raw CID is checked directly (the file is one raw block). A dag-pb root depends on the
    import settings, which the CID does not record: ``params`` is tried first, then the
    :data:`KNOWN_PROFILES` (each try hashes ``data`` once).
    """
    target = parse_cid(cid)
    if target.codec == CODEC_RAW:
        return target.hash_function.digest(data) == target.digest
    key = target.key
    for p in _candidates(target, params):
        if parse_cid(compute_cid(data, params=p)).key == key:
            return True
    return False


def verify_cid_file(source: _Source, cid: str | CID, *, params: ImportParams | None = None) -> bool:
    """:func:`verify_cid` for a path or a seekable binary file object, read chunk by chunk."""
    target = parse_cid(cid)
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            return verify_cid_file(fh, target, params=params)
    start = source.tell()
    if target.codec == CODEC_RAW:  # one raw block: the hash of the whole file
        h = target.hash_function.new()
        for block in iter(lambda: source.read(1 << 20), b""):
            h.update(block)
        return bool(h.digest() == target.digest)
    for p in _candidates(target, params):
        source.seek(start)
        link, _ = _stream_root(source, p, None)
        if parse_cid(link.cid).key == target.key:
            return True
    return False
