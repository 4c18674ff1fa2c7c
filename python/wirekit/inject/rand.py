"""Random numbers for packet fields, and random permutations of large ranges for scan order.

`Permutation(n, key)` maps 0..n-1 onto 0..n-1 bijectively in a key-dependent order without
storing anything but the round keys: a balanced Feistel network over the smallest even
number of bits that covers n, with cycle walking (re-encrypting values >= n until one lands
in range; Black and Rogaway, "Ciphers with Arbitrary Finite Domains", 2002). Any number of
Feistel rounds is a bijection; six rounds give an order with no visible structure. It is a
scan-order shuffle, not a cipher to keep secrets with.
"""

from __future__ import annotations

import secrets
from typing import Iterator

__all__ = ["rand16", "rand32", "Permutation"]

_M64 = (1 << 64) - 1
ROUNDS = 6


def rand16() -> int:
    """A uniformly random 16-bit value (e.g. an IP id or source port)."""
    return secrets.randbits(16)


def rand32() -> int:
    """A uniformly random 32-bit value (e.g. a TCP initial sequence number)."""
    return secrets.randbits(32)


def _mix64(z: int) -> int:
    # splitmix64's finalizer: a cheap, well-distributed 64-bit mixing function.
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class Permutation:
    """A keyed bijection of range(n): `p[i]` is the i-th element of the shuffled order.

    Iterating yields every value in 0..n-1 exactly once. `p.index(v)` inverts it. Equal
    (n, key) give equal orders, so a scan can resume or be split across workers by index.
    """

    __slots__ = ("n", "key", "_half_bits", "_half_mask", "_keys")

    def __init__(self, n: int, key: int | None = None):
        if n < 1:
            raise ValueError("a permutation needs n >= 1")
        self.n = n
        self.key = secrets.randbits(64) if key is None else key & _M64
        bits = max(2, (n - 1).bit_length())
        bits += bits & 1  # balanced halves
        self._half_bits = bits // 2
        self._half_mask = (1 << self._half_bits) - 1
        self._keys = [_mix64(self.key + 0x9E3779B97F4A7C15 * (r + 1) & _M64) for r in range(ROUNDS)]

    def __len__(self) -> int:
        return self.n

    def _encrypt(self, x: int) -> int:
        hb, hm = self._half_bits, self._half_mask
        left, right = x >> hb, x & hm
        for k in self._keys:
            left, right = right, left ^ (_mix64(right ^ k) & hm)
        return (left << hb) | right

    def _decrypt(self, y: int) -> int:
        hb, hm = self._half_bits, self._half_mask
        left, right = y >> hb, y & hm
        for k in reversed(self._keys):
            left, right = right ^ (_mix64(left ^ k) & hm), left
        return (left << hb) | right

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError("permutation index out of range")
        # Cycle walking: the domain is at most 4n, so this loops a few times on average.
        x = self._encrypt(i)
        while x >= self.n:
            x = self._encrypt(x)
        return x

    def index(self, value: int) -> int:
        """The position of `value` in the order (the inverse permutation)."""
        if not 0 <= value < self.n:
            raise ValueError("value out of range")
        x = self._decrypt(value)
        while x >= self.n:
            x = self._decrypt(x)
        return x

    def __iter__(self) -> Iterator[int]:
        return self.slice(0, self.n)

    def slice(self, start: int, stop: int) -> Iterator[int]:
        """The order's elements start..stop-1 (for resuming, or sharding across workers)."""
        n, enc = self.n, self._encrypt
        for i in range(max(0, start), min(stop, n)):
            x = enc(i)
            while x >= n:
                x = enc(x)
            yield x
