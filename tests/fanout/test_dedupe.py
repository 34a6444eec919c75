"""The compact digest set behind duplicate detection."""

from __future__ import annotations

import random

from mindo_async._dedupe import DigestSet


def test_digest_set_behaves_like_a_set_through_growth() -> None:
    """Adds, membership and size agree with a plain set across many resizes, zero included."""
    rng = random.Random(1)
    values = [rng.getrandbits(64) for _ in range(20_000)] + [0, 1, 2**64 - 1]
    compact = DigestSet(capacity=4)
    reference: set[int] = set()
    for value in values + values[:500]:
        assert compact.add(value) is (value not in reference)
        reference.add(value)
    assert len(compact) == len(reference)
    assert all(value in compact for value in values)
    assert not any(rng.getrandbits(64) in compact for _ in range(1000))
    assert "not an int" not in compact


def test_digest_set_memory_is_a_few_bytes_a_member() -> None:
    """A million members fit in at most 32 MB of slots (a Python set of ints takes about 70)."""
    compact = DigestSet()
    for value in range(1, 1_000_001):
        compact.add(value * 0x9E3779B97F4A7C15 % 2**64)
    assert len(compact) == 1_000_000
    assert compact._slots.itemsize * len(compact._slots) <= 32 * 2**20
