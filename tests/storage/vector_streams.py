"""Byte streams that regenerate the large files of Kubo's CID test vectors, chunk by chunk.

``kubo_chacha20`` is Kubo's ``random_deterministic.go`` (ChaCha20 keystream, key = SHA-256 of the
seed). The two Go ``math/rand`` v1 generators need Go's 607-entry ``rngCooked`` table, which is
not shipped here: set ``FEDCHAIN_GO_RNG_COOKED`` to a file holding its 607 integers (from Go's
``src/math/rand/rng.go``, in order, separated by commas or white space) to run those vectors.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

__all__ = ["GO_TABLE_ENV", "ChaChaStream", "GoRandStream", "go_rng_cooked", "open_stream"]

GO_TABLE_ENV = "FEDCHAIN_GO_RNG_COOKED"
_LEN, _TAP = 607, 273
_INT32MAX = (1 << 31) - 1
_M64 = (1 << 64) - 1


class _Stream:
    """A read-only binary stream of ``size`` bytes that also hashes what it hands out."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.sha256 = hashlib.sha256()
        self.head = b""

    def _produce(self, n: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n == 0:
            return b""
        out = self._produce(n)
        self.left -= n
        self.sha256.update(out)
        if len(self.head) < 16:
            self.head = (self.head + out)[:16]
        return out


class ChaChaStream(_Stream):
    """Kubo's deterministic random bytes: the ChaCha20 keystream (RFC 8439, nonce 0, counter 0)."""

    def __init__(self, seed: str, size: int) -> None:
        super().__init__(size)
        key = hashlib.sha256(seed.encode()).digest()
        # cryptography takes a 16-byte nonce: 4-byte little-endian counter || 12-byte nonce
        self._enc = Cipher(algorithms.ChaCha20(key, b"\0" * 16), mode=None).encryptor()

    def _produce(self, n: int) -> bytes:
        return self._enc.update(bytes(n))


def go_rng_cooked() -> list[int] | None:
    """Go's ``rngCooked`` table from the file named by ``FEDCHAIN_GO_RNG_COOKED``, if set."""
    path = os.environ.get(GO_TABLE_ENV)
    if not path:
        return None
    numbers = [int(x) for x in re.findall(r"-?\d+", Path(path).read_text())]
    if len(numbers) != _LEN:
        raise ValueError(f"{path}: expected {_LEN} integers, found {len(numbers)}")
    return numbers


def _seedrand(x: int) -> int:
    hi, lo = divmod(x, 44488)  # x is always positive here
    x = 48271 * lo - 3399 * hi
    return x + _INT32MAX if x < 0 else x


class GoRandStream(_Stream):
    """Go ``math/rand`` v1 ``rngSource`` output (additive lagged Fibonacci, lags 607 and 273).

    ``mode="read"``: ``rand.New(rand.NewSource(seed)).Read`` (7 bytes of each Int63, low first);
    ``mode="uint32"``: successive ``uint32(Int63() >> 31)`` as 4 little-endian bytes.
    """

    _BLOCK = _TAP * 256  # values generated per numpy step

    def __init__(self, seed: int, size: int, mode: str, cooked: list[int]) -> None:
        super().__init__(size)
        seed %= _INT32MAX
        if seed == 0:
            seed = 89482311
        vec = [0] * _LEN
        x = seed
        for i in range(-20, _LEN):
            x = _seedrand(x)
            if i >= 0:
                u = (x << 40) & _M64
                x = _seedrand(x)
                u ^= (x << 20) & _M64
                x = _seedrand(x)
                u ^= x
                u ^= cooked[i] & _M64
                vec[i] = u
        # y_k = y_{k-607} + y_{k-273}; y_j for j in [-606, 0] is vec[(-273 - j) mod 607]
        self._hist = np.array([vec[(-273 - j) % _LEN] for j in range(-606, 1)], dtype=np.uint64)
        self._mode = mode
        self._buf = b""

    def _values(self) -> np.ndarray:
        hist = self._hist
        out = np.empty(len(hist) + self._BLOCK, dtype=np.uint64)
        out[: len(hist)] = hist
        base = len(hist)
        for start in range(base, base + self._BLOCK, _TAP):
            out[start : start + _TAP] = out[start - 607 : start - 334] + out[start - 273 : start]
        self._hist = out[-607:].copy()
        return out[base:] & np.uint64((1 << 63) - 1)

    def _produce(self, n: int) -> bytes:
        while len(self._buf) < n:
            v = self._values()
            if self._mode == "uint32":
                words = (v >> np.uint64(31)).astype("<u4")
                self._buf += words.tobytes()
            else:
                seven = v.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :7]
                self._buf += seven.tobytes()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def open_stream(generator: dict, cooked: list[int] | None) -> _Stream | None:
    """A stream for a vector's ``generator`` entry, or None when it cannot be regenerated."""
    kind = generator["type"]
    if kind == "kubo_chacha20":
        return ChaChaStream(generator["seed"], generator["size"])
    if cooked is None:
        return None
    if kind == "go_math_rand_v1_read":
        return GoRandStream(generator["seed"], generator["size"], "read", cooked)
    if kind == "go_random_legacy":
        return GoRandStream(generator["seed"], generator["size"], "uint32", cooked)
    raise ValueError(f"unknown generator {kind!r}")
