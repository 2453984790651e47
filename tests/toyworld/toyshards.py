"""Helpers of the labeled-world tests: a source's split plans and a tar's members read directly
(with tarfile, independently of the project's reader)."""

from __future__ import annotations

import tarfile
from collections import defaultdict

import numpy as np

from vlmbias import toyworld as tw


def plans(source: str, n: int) -> list[dict]:
    spec = tw.SOURCES[source]
    return [spec.planner(np.random.default_rng(0), i) for i in range(n)]


def read_members(path) -> dict[str, dict[str, bytes]]:
    """key -> {member extension -> bytes}, every member of the tar."""
    out: dict[str, dict[str, bytes]] = defaultdict(dict)
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            key, ext = m.name.split(".", 1)
            out[key][ext] = tf.extractfile(m).read()
    return dict(out)
