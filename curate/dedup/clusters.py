"""Union-find over the nodes a clustering task is given, and the kept document of each cluster.

`UnionFind` holds one int64 parent per node; it links every root to the smaller index, so a
component's root is its smallest index whatever order the edges come in. Unions are vectorised:
each round links the roots of all pending edges at once with `np.minimum.at`, and repeats for
edges whose roots collided.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    def __init__(self, n: int):
        self.parent = np.arange(n, dtype=np.int64)

    def find(self, x: np.ndarray) -> np.ndarray:
        parent = self.parent
        while True:
            p = parent[x]
            if np.array_equal(p, x):
                return x
            parent[x] = parent[p]  # path halving
            x = p

    def union(self, u: np.ndarray, v: np.ndarray) -> None:
        while len(u):
            ru, rv = self.find(u), self.find(v)
            differ = ru != rv
            u, v, ru, rv = u[differ], v[differ], ru[differ], rv[differ]
            if not len(u):
                return
            np.minimum.at(self.parent, np.maximum(ru, rv), np.minimum(ru, rv))

    def roots(self) -> np.ndarray:
        """The root of every document (compresses all paths)."""
        parent = self.parent
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent[:] = grand


def keepers(members: np.ndarray, labels: np.ndarray, priority: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For documents `members` with component `labels` and `priority` (lower is kept):
    (keeper of each member's component, as an index into `members`; component size per member;
    True where the member is its component's keeper)."""
    order = np.lexsort((priority, labels))
    sorted_labels = labels[order]
    new = np.ones(len(order), bool)
    new[1:] = sorted_labels[1:] != sorted_labels[:-1]
    group = np.cumsum(new) - 1
    first = order[new]  # keeper of each group, as an index into members
    keeper = np.empty(len(order), np.int64)
    keeper[order] = first[group]
    size = np.empty(len(order), np.int64)
    size[order] = np.bincount(group)[group]
    return keeper, size, keeper == np.arange(len(order))
