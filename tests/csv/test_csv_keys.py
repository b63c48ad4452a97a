"""The journal's set of a file's keys answers like a set of the keys, in 8 bytes a key."""

from __future__ import annotations

import random

import pytest

from connectors.csv import keys as keys_module
from connectors.csv.keys import FileKeys


@pytest.mark.parametrize("sort_at", [3, 50, 50_000])
def test_it_answers_as_a_set_would_through_adds_discards_and_merges(monkeypatch, sort_at):
    monkeypatch.setattr(keys_module, "SORT_AT", sort_at)
    rng = random.Random(sort_at)
    model: set[str] = set()
    kept = FileKeys(f"K-{n}" for n in range(0, 400, 3))
    model.update(f"K-{n}" for n in range(0, 400, 3))
    for _ in range(5_000):
        key = f"K-{rng.randrange(500)}"
        if rng.random() < 0.6:
            model.add(key)
            kept.add(key)
        else:
            model.discard(key)
            kept.discard(key)
        probe = f"K-{rng.randrange(600)}"
        assert (probe in kept) == (probe in model)
        assert len(kept) == len(model)


def test_a_million_keys_take_about_eight_bytes_each():
    kept = FileKeys(f"C-{n:07d}" for n in range(1_000_000))
    kept._merge()
    assert len(kept) == 1_000_000
    assert "C-0999999" in kept and "C-1000000" not in kept
    assert kept._sorted.itemsize * len(kept._sorted) <= 8 * 1_000_000
