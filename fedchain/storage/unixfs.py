"""UnixFS file and directory DAGs exactly as Kubo's importer (boxo) builds them.

The importer cuts a file into fixed-size chunks and links them into a tree of dag-pb nodes:

* leaves: a raw block (``--raw-leaves``; CIDv1 codec raw, even under a CIDv0 root) or a dag-pb
  node holding a UnixFS ``File`` message with ``Data`` and ``filesize`` (``Raw`` in trickle);
* internal nodes: dag-pb with one link per child (``Hash`` = child CID bytes, empty ``Name``,
  ``Tsize`` = child's cumulative block size) and a UnixFS ``File`` message with ``filesize`` and
  one ``blocksizes`` entry per child (the child's file bytes);
* balanced layout: a file of one chunk *is* that leaf; otherwise each full tree of depth d is
  wrapped in a root of depth d+1 (at most ``max_links`` children per node) while data remains;
* trickle layout: boxo's ``trickle`` (a layer of leaves, then 4 subtrees of each growing depth).

Protobuf is written by hand in the canonical dag-pb order (links first, then data). Every node
is hashed as it is closed and only its CID and sizes are kept, so the builder holds one open
node per tree level, never the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from fedchain.storage.errors import CIDParameterError
from fedchain.storage.multiformats import (
    CODEC_DAG_PB,
    CODEC_RAW,
    HashFunction,
    get_hash,
    varint_encode,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_LINKS",
    "MAX_CHUNK_SIZE",
    "ChunkReader",
    "DagBuilder",
    "ImportParams",
    "Link",
]

DEFAULT_CHUNK_SIZE = 262_144  # Kubo's size-262144 chunker
DEFAULT_MAX_LINKS = 174  # boxo helpers.DefaultLinksPerBlock
MAX_CHUNK_SIZE = 1_048_576  # Kubo refuses larger chunks (block size limit)
HAMT_THRESHOLD = 262_144  # Kubo shards a directory whose links estimate exceeds 256 KiB

_UNIXFS_RAW = 0
_UNIXFS_DIRECTORY = 1
_UNIXFS_FILE = 2
_TRICKLE_DEPTH_REPEAT = 4
_LAYOUTS = ("balanced", "trickle")


@dataclass(frozen=True)
class ImportParams:
    """Kubo ``ipfs add`` import settings, resolved the way Kubo resolves its flags.

    ``raw_leaves=None`` is Kubo's default for the version (raw leaves for CIDv1, dag-pb leaves
    for CIDv0); a hash other than sha2-256 needs CIDv1 (Kubo upgrades only an unset version).
    """

    cid_version: int = 1
    raw_leaves: bool | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    max_links: int = DEFAULT_MAX_LINKS
    hash: str = "sha2-256"
    layout: str = "balanced"
    hash_function: HashFunction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.cid_version not in (0, 1):
            raise CIDParameterError(f"cid_version must be 0 or 1, not {self.cid_version!r}")
        fn = get_hash(self.hash)
        if self.cid_version == 0 and fn.name != "sha2-256":
            raise CIDParameterError(f"CIDv0 only supports sha2-256, not {self.hash}")
        if not 1 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise CIDParameterError(
                f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes, not {self.chunk_size}"
            )
        if self.max_links < 2:
            raise CIDParameterError(f"max_links must be at least 2, not {self.max_links}")
        if self.layout not in _LAYOUTS:
            raise CIDParameterError(f"layout must be one of {_LAYOUTS}, not {self.layout!r}")
        if self.raw_leaves is None:
            object.__setattr__(self, "raw_leaves", self.cid_version == 1)
        object.__setattr__(self, "hash_function", fn)

    @property
    def chunker(self) -> str:
        """Kubo's name for the chunker (``size-N``)."""
        return f"size-{self.chunk_size}"


class Link(NamedTuple):
    """A closed node as its parent sees it."""

    cid: bytes  # binary CID (a bare multihash for CIDv0)
    tsize: int  # cumulative size of the serialized blocks under it (dag-pb Tsize)
    filesize: int  # file bytes under it (UnixFS blocksizes entry)


class ChunkReader:
    """Fixed-size chunks from ``read(n)`` with one chunk of look-ahead (boxo's ``Done()``).

    A short read is retried until the chunk is full or the input ends, like Go's
    ``io.ReadFull``; the input never yields an empty chunk, and a last short chunk only at EOF.
    """

    def __init__(
        self, read: Callable[[int], bytes | memoryview], chunk_size: int, *, tee=None
    ) -> None:
        self._read = read
        self._size = chunk_size
        self._tee: Callable[[bytes | memoryview], object] | None = tee
        self.total = 0
        self._next = self._fill()

    def _fill(self) -> bytes | memoryview | None:
        chunk = self._read(self._size)
        if not chunk:
            return None
        if len(chunk) < self._size:  # a short read: keep reading until full or EOF
            parts = [bytes(chunk)]
            got = len(chunk)
            while got < self._size:
                more = self._read(self._size - got)
                if not more:
                    break
                parts.append(bytes(more))
                got += len(more)
            chunk = b"".join(parts)
        if self._tee is not None:
            self._tee(chunk)
        self.total += len(chunk)
        return chunk

    def done(self) -> bool:
        """True once no chunk is left."""
        return self._next is None

    def next(self) -> bytes | memoryview:
        """The next chunk (call only when not :meth:`done`)."""
        chunk = self._next
        assert chunk is not None, "next() after done()"
        self._next = self._fill()
        return chunk


def _pb_bytes(field_tag: int, value: bytes | memoryview) -> bytes:
    return bytes((field_tag,)) + varint_encode(len(value))


class DagBuilder:
    """Builds and hashes UnixFS nodes for one set of :class:`ImportParams`."""

    def __init__(self, params: ImportParams) -> None:
        self.params = params
        self._hash = params.hash_function
        self._raw_prefix = varint_encode(1) + varint_encode(CODEC_RAW)
        self._node_prefix = (
            b"" if params.cid_version == 0 else varint_encode(1) + varint_encode(CODEC_DAG_PB)
        )

    # -- nodes -------------------------------------------------------------------------------

    def _digest(self, parts: Iterable[bytes | memoryview]) -> bytes:
        h = self._hash.new()
        for part in parts:
            h.update(part)
        return self._hash.multihash(h.digest())

    def leaf(self, data: bytes | memoryview | None, unixfs_type: int = _UNIXFS_FILE) -> Link:
        """A leaf for one chunk (``None`` = the empty file's leaf, which has no Data field)."""
        size = 0 if data is None else len(data)
        if self.params.raw_leaves:
            mh = self._digest(() if data is None else (data,))
            return Link(self._raw_prefix + mh, size, size)
        unixfs = bytes((0x08, unixfs_type))
        if data is not None:
            unixfs += _pb_bytes(0x12, data)
        suffix = b"\x18" + varint_encode(size)
        inner_len = len(unixfs) + size + len(suffix)
        head = b"\x0a" + varint_encode(inner_len) + unixfs
        parts = (head, data, suffix) if data is not None else (head, suffix)
        block_len = len(head) + size + len(suffix)
        return Link(self._node_prefix + self._digest(parts), block_len, size)

    def node(self, links: list[tuple[bytes, Link]], unixfs: bytes) -> Link:
        """A dag-pb node with named links (names as UTF-8 bytes) and UnixFS ``Data``."""
        out = bytearray()
        for name, link in links:
            body = (
                _pb_bytes(0x0A, link.cid)
                + link.cid
                + _pb_bytes(0x12, name)
                + name
                + b"\x18"
                + varint_encode(link.tsize)
            )
            out += _pb_bytes(0x12, body) + body
        out += _pb_bytes(0x0A, unixfs) + unixfs
        block = bytes(out)
        tsize = len(block) + sum(link.tsize for _, link in links)
        filesize = sum(link.filesize for _, link in links)
        return Link(self._node_prefix + self._digest((block,)), tsize, filesize)

    def file_node(self, children: list[Link]) -> Link:
        """An internal UnixFS ``File`` node over ``children``."""
        filesize = sum(c.filesize for c in children)
        unixfs = bytearray(b"\x08\x02\x18" + varint_encode(filesize))
        for c in children:
            unixfs += b"\x20" + varint_encode(c.filesize)
        return self.node([(b"", c) for c in children], bytes(unixfs))

    def directory_node(self, entries: dict[str, Link]) -> Link:
        """A basic (non-sharded) UnixFS directory; links sorted by name bytes as boxo does."""
        named = sorted((name.encode("utf-8"), link) for name, link in entries.items())
        estimate = sum(len(name) + len(link.cid) for name, link in named)
        if estimate > HAMT_THRESHOLD:
            raise CIDParameterError(
                "this directory is large enough for Kubo to shard it (HAMT); sharded "
                "directories are not supported"
            )
        return self.node(named, bytes((0x08, _UNIXFS_DIRECTORY)))

    # -- layouts -----------------------------------------------------------------------------

    def build(self, chunks: ChunkReader) -> Link:
        """The root of the file DAG over ``chunks`` in the configured layout."""
        if self.params.layout == "trickle":
            return self._trickle(chunks, -1)
        if chunks.done():
            return self.leaf(None)
        root = self.leaf(chunks.next())
        depth = 1
        while not chunks.done():
            root = self._fill_balanced(chunks, [root], depth)
            depth += 1
        return root

    def _fill_balanced(self, chunks: ChunkReader, children: list[Link], depth: int) -> Link:
        while len(children) < self.params.max_links and not chunks.done():
            if depth == 1:
                children.append(self.leaf(chunks.next()))
            else:
                children.append(self._fill_balanced(chunks, [], depth - 1))
        return self.file_node(children)

    def _trickle(self, chunks: ChunkReader, max_depth: int) -> Link:
        children: list[Link] = []
        while len(children) < self.params.max_links and not chunks.done():
            children.append(self.leaf(chunks.next(), _UNIXFS_RAW))
        depth = 1
        while (max_depth == -1 or depth < max_depth) and not chunks.done():
            for _ in range(_TRICKLE_DEPTH_REPEAT):
                if chunks.done():
                    break
                children.append(self._trickle(chunks, depth))
            depth += 1
        return self.file_node(children)
