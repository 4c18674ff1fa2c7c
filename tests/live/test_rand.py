"""Random fields and keyed permutations for scan order."""

from __future__ import annotations

import pytest

from wirekit.inject.rand import Permutation, rand16, rand32


@pytest.mark.parametrize("n", [1, 2, 3, 10, 255, 256, 1000, 4099])
def test_permutation_is_a_bijection(n):
    p = Permutation(n, key=12345)
    order = list(p)
    assert sorted(order) == list(range(n))
    assert [p.index(v) for v in order] == list(range(n))
    assert [p[i] for i in range(min(n, 50))] == order[:50]


def test_same_key_same_order_different_key_different_order():
    a, b, c = Permutation(1000, key=1), Permutation(1000, key=1), Permutation(1000, key=2)
    assert list(a) == list(b)
    assert list(a) != list(c)
    assert list(a) != list(range(1000))  # shuffled, not the identity


def test_slices_cover_the_order_for_sharding():
    p = Permutation(2000, key=7)
    shards = [list(p.slice(s, s + 500)) for s in range(0, 2000, 500)]
    assert sum(shards, []) == list(p)


def test_huge_range_without_materialising():
    p = Permutation(1 << 32, key=99)
    vals = [p[i] for i in range(1000)]
    assert len(set(vals)) == 1000 and all(0 <= v < 1 << 32 for v in vals)
    assert p.index(vals[777]) == 777
    with pytest.raises(IndexError):
        p[1 << 32]


def test_random_fields_stay_in_range():
    v16 = {rand16() for _ in range(2000)}
    v32 = {rand32() for _ in range(2000)}
    assert all(0 <= v < 1 << 16 for v in v16) and len(v16) > 1900
    assert all(0 <= v < 1 << 32 for v in v32) and len(v32) == 2000
