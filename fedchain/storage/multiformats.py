"""Multiformats in pure Python: varints, multibase, multihash and CIDs.

Only what FedChain needs, and strict about it:

* multibase: base58btc (CIDv0 and ``z``), base32 lower/upper (``b``/``B``), base16 (``f``/``F``);
* multihash: sha2-256 (0x12), sha2-512 (0x13), blake2b-256 (0xb220);
* codecs: raw (0x55) and dag-pb (0x70), the two an IPFS file is made of.

A :class:`CID` is compared by ``(codec, multihash)``: a CIDv0 and the CIDv1 dag-pb with the same
multihash name the same block and have the same :attr:`CID.key` (the CIDv1 base32 string).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fedchain.storage.errors import CIDParameterError, InvalidCIDError

__all__ = [
    "CID",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "HASHES",
    "HashFunction",
    "base32_decode",
    "base32_encode",
    "base58_decode",
    "base58_encode",
    "cid_to_digest",
    "digest_to_cid",
    "get_hash",
    "parse_cid",
    "varint_decode",
    "varint_encode",
]

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
_CODEC_NAMES = {CODEC_RAW: "raw", CODEC_DAG_PB: "dag-pb"}

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_MAX_CID_CHARS = 512  # the longest CID we accept (sha2-512 in base16 is ~140 chars)


# -- varints (unsigned LEB128, as multiformats uses them) ------------------------------------


def varint_encode(value: int) -> bytes:
    """Encode a non-negative integer as an unsigned varint."""
    if value < 0:
        raise ValueError(f"varint of a negative number: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint_decode(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode a minimal unsigned varint (at most 9 bytes) at ``offset``; return (value, next)."""
    value = 0
    for i in range(9):
        if offset + i >= len(data):
            raise InvalidCIDError("truncated varint")
        byte = data[offset + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise InvalidCIDError("varint is not minimally encoded")
            return value, offset + i + 1
    raise InvalidCIDError("varint longer than 9 bytes")


# -- multibase ---------------------------------------------------------------------------------


def base58_encode(data: bytes) -> str:
    """Bitcoin base58 (the alphabet of CIDv0 and multibase ``z``)."""
    n = int.from_bytes(data, "big")
    chars = []
    while n:
        n, rem = divmod(n, 58)
        chars.append(_B58_ALPHABET[rem])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(chars))


def base58_decode(text: str) -> bytes:
    """Inverse of :func:`base58_encode`; raises :class:`InvalidCIDError` on a bad character."""
    n = 0
    for ch in text:
        try:
            n = n * 58 + _B58_INDEX[ch]
        except KeyError:
            raise InvalidCIDError(f"character {ch!r} is not base58btc") from None
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + body


def base32_encode(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding (multibase ``b``)."""
    return base64.b32encode(data).decode("ascii").lower().rstrip("=")


def base32_decode(text: str) -> bytes:
    """Inverse of :func:`base32_encode` (case-insensitive, padding optional)."""
    upper = text.upper()
    if any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" for c in upper):
        raise InvalidCIDError("not base32 (RFC 4648)")
    try:
        return base64.b32decode(upper + "=" * (-len(upper) % 8))
    except binascii.Error as exc:
        raise InvalidCIDError(f"not base32: {exc}") from None


# -- multihash ---------------------------------------------------------------------------------


class _Hasher(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...

    def digest(self) -> bytes: ...


@dataclass(frozen=True)
class HashFunction:
    """A multihash function: its Kubo name, multicodec code and digest length."""

    name: str
    code: int
    length: int
    new: Callable[[], _Hasher]

    def digest(self, data: bytes | bytearray | memoryview) -> bytes:
        """Hash ``data`` in one call."""
        h = self.new()
        h.update(data)
        return h.digest()

    def multihash(self, digest: bytes) -> bytes:
        """``varint(code) || varint(length) || digest``."""
        return varint_encode(self.code) + varint_encode(self.length) + digest


HASHES: dict[str, HashFunction] = {
    "sha2-256": HashFunction("sha2-256", 0x12, 32, hashlib.sha256),
    "sha2-512": HashFunction("sha2-512", 0x13, 64, hashlib.sha512),
    "blake2b-256": HashFunction("blake2b-256", 0xB220, 32, lambda: hashlib.blake2b(digest_size=32)),
}
_HASH_BY_CODE = {h.code: h for h in HASHES.values()}


def get_hash(name: str) -> HashFunction:
    """The :class:`HashFunction` named as Kubo names it (``sha2-256``, ``blake2b-256``...)."""
    try:
        return HASHES[name]
    except KeyError:
        raise CIDParameterError(
            f"unsupported hash {name!r}; supported: {', '.join(sorted(HASHES))}"
        ) from None


# -- CIDs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CID:
    """A parsed CID. Use :func:`parse_cid` to build one from text or bytes."""

    version: int
    codec: int
    hash_code: int
    digest: bytes

    @property
    def hash_function(self) -> HashFunction:
        """The multihash function of this CID."""
        return _HASH_BY_CODE[self.hash_code]

    @property
    def multihash(self) -> bytes:
        """The binary multihash (code, length, digest)."""
        return self.hash_function.multihash(self.digest)

    @property
    def codec_name(self) -> str:
        """``raw`` or ``dag-pb``."""
        return _CODEC_NAMES[self.codec]

    def to_bytes(self) -> bytes:
        """Binary form: the multihash for v0, ``0x01 || codec || multihash`` for v1."""
        if self.version == 0:
            return self.multihash
        return varint_encode(1) + varint_encode(self.codec) + self.multihash

    def encode(self) -> str:
        """Text form: base58btc for v0, multibase base32 (``b...``) for v1."""
        if self.version == 0:
            return base58_encode(self.multihash)
        return "b" + base32_encode(self.to_bytes())

    def to_v1(self) -> CID:
        """The CIDv1 of the same block (what ``--cid-base=base32`` prints for a CIDv0)."""
        return CID(1, self.codec, self.hash_code, self.digest)

    @property
    def key(self) -> str:
        """Canonical identity: the CIDv1 base32 string (equal for a CIDv0 and its CIDv1)."""
        return self.to_v1().encode()

    def __str__(self) -> str:
        return self.encode()


def _check_multihash(code: int, digest_len: int) -> None:
    fn = _HASH_BY_CODE.get(code)
    if fn is None:
        raise InvalidCIDError(
            f"unsupported multihash code 0x{code:x}; supported: "
            + ", ".join(f"{h.name} (0x{h.code:x})" for h in HASHES.values())
        )
    if digest_len != fn.length:
        raise InvalidCIDError(
            f"{fn.name} digest must be {fn.length} bytes, the multihash says {digest_len}"
        )


def _parse_binary(raw: bytes) -> CID:
    if len(raw) == 34 and raw[0] == 0x12 and raw[1] == 0x20:  # CIDv0: a bare sha2-256 multihash
        return CID(0, CODEC_DAG_PB, 0x12, bytes(raw[2:]))
    version, pos = varint_decode(raw, 0)
    if version != 1:
        raise InvalidCIDError(f"unsupported CID version {version}")
    codec, pos = varint_decode(raw, pos)
    if codec not in _CODEC_NAMES:
        raise InvalidCIDError(f"unsupported codec 0x{codec:x}: only raw (0x55) and dag-pb (0x70)")
    code, pos = varint_decode(raw, pos)
    length, pos = varint_decode(raw, pos)
    _check_multihash(code, length)
    digest = raw[pos:]
    if len(digest) != length:
        raise InvalidCIDError(f"multihash says {length} digest bytes, the CID holds {len(digest)}")
    return CID(1, codec, code, bytes(digest))


def parse_cid(value: str | bytes | CID) -> CID:
    """Parse a CID from its text form (v0 ``Qm...``, v1 ``b...``/``B...``/``z...``/``f...``) or
    its binary form; raise :class:`InvalidCIDError` with the reason if it is not a valid CID."""
    if isinstance(value, CID):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return _parse_binary(bytes(value))
    if not isinstance(value, str):
        raise InvalidCIDError(f"a CID must be a string or bytes, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidCIDError("empty CID")
    if len(text) > _MAX_CID_CHARS:
        raise InvalidCIDError(f"CID too long ({len(text)} characters)")
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        if len(text) == 46 and text.startswith("Qm"):
            raw = base58_decode(text)
            if len(raw) != 34 or raw[:2] != b"\x12\x20":
                raise InvalidCIDError("a CIDv0 must be a base58btc sha2-256 multihash")
            return CID(0, CODEC_DAG_PB, 0x12, raw[2:])
        if text.startswith("Qm"):
            raise InvalidCIDError(f"a CIDv0 (Qm...) has 46 characters, not {len(text)}")
        prefix, body = text[0], text[1:]
        if prefix in "bB":
            raw = base32_decode(body)
        elif prefix == "z":
            raw = base58_decode(body)
        elif prefix in "fF":
            try:
                raw = bytes.fromhex(body)
            except ValueError:
                raise InvalidCIDError("not base16") from None
        else:
            raise InvalidCIDError(
                f"unsupported multibase prefix {prefix!r} (expected Qm... or b/B/z/f/F)"
            )
        cid = _parse_binary(raw)
        if cid.version == 0:
            raise InvalidCIDError("a CIDv0 cannot carry a multibase prefix")
        return cid
    except InvalidCIDError as exc:
        raise InvalidCIDError(f"invalid CID {shown!r}: {exc}") from None


def cid_to_digest(cid: str | CID) -> tuple[bytes, int]:
    """Split a sha2-256 CID into what the chain stores: the 32-byte digest and the codec
    (``0x55`` raw or ``0x70`` dag-pb). :func:`digest_to_cid` rebuilds the CID."""
    parsed = parse_cid(cid)
    if parsed.hash_code != HASHES["sha2-256"].code:
        raise InvalidCIDError(
            f"only sha2-256 CIDs map to an on-chain digest; {parsed} uses "
            f"{parsed.hash_function.name}"
        )
    return parsed.digest, parsed.codec


def digest_to_cid(digest: bytes, codec: int, *, version: int = 1) -> str:
    """Rebuild the CID text from an on-chain sha2-256 ``digest`` and ``codec``.

    ``version=0`` gives the ``Qm...`` form, possible only for dag-pb."""
    if len(digest) != 32:
        raise InvalidCIDError(f"a sha2-256 digest is 32 bytes, got {len(digest)}")
    if codec not in _CODEC_NAMES:
        raise InvalidCIDError(f"unsupported codec 0x{codec:x}: only raw (0x55) and dag-pb (0x70)")
    if version not in (0, 1):
        raise InvalidCIDError(f"unsupported CID version {version}")
    if version == 0 and codec != CODEC_DAG_PB:
        raise InvalidCIDError("a CIDv0 can only address a dag-pb block")
    return CID(version, codec, 0x12, bytes(digest)).encode()
