"""The keys of a file's rows, kept in about 8 bytes each.

The journal needs to know, for every row it is sent, whether the file holds its key already
(to answer created or updated, and to append new rows without rewriting the old ones). A set
of the keys themselves costs some 90 bytes a row, which grows without bound with the file: a
million-row export would hold 90 MB for it. Here each key is a 64-bit hash in a sorted array,
with the few added or removed since the last sort in small sets.

Two keys with one hash (about one chance in 10^7 for a million keys) make a new row look
present: it is reported as updated rather than created, and the file is rewritten whole
rather than appended to. The rows written are the same either way."""

from __future__ import annotations

import hashlib
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable

SORT_AT = 50_000
"""Changes kept aside before they are merged into the sorted array (one pass over it)."""


def _hash(key: str) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class FileKeys:
    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._sorted = array("q")
        self._added: set[int] = set()
        self._removed: set[int] = set()
        for key in keys:
            self.add(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        hashed = _hash(key)
        if hashed in self._removed:
            return False
        return hashed in self._added or self._in_sorted(hashed)

    def __len__(self) -> int:
        return len(self._sorted) - len(self._removed) + len(self._added)

    def add(self, key: str) -> None:
        hashed = _hash(key)
        if hashed in self._removed:
            self._removed.discard(hashed)
        elif not self._in_sorted(hashed):
            self._added.add(hashed)
            if len(self._added) >= SORT_AT:
                self._merge()

    def discard(self, key: str) -> None:
        hashed = _hash(key)
        if hashed in self._added:
            self._added.discard(hashed)
        elif self._in_sorted(hashed):
            self._removed.add(hashed)
            if len(self._removed) >= SORT_AT:
                self._merge()

    def _in_sorted(self, hashed: int) -> bool:
        index = bisect_left(self._sorted, hashed)
        return index < len(self._sorted) and self._sorted[index] == hashed

    def _merge(self) -> None:
        removed = self._removed
        merged = array("q")
        merged.extend(
            hashed
            for hashed in heapq.merge(self._sorted, sorted(self._added))
            if hashed not in removed
        )
        self._sorted, self._added, self._removed = merged, set(), set()
