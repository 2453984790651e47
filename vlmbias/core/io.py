"""Files: atomic writes, JSON, byte-reproducible NumPy archives, and the hash of a resolved spec.

Every output of the workflow is written through :func:`atomic_path` (a temporary file renamed
into place), so a killed job never leaves a file that looks complete. No torch here: callers
that save tensors do ``with atomic_path(p) as tmp: torch.save(obj, tmp)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends,
    removed when it raises. Creates the parent folder."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path: str | os.PathLike, obj: Any, indent: int = 1) -> None:
    """``obj`` as JSON (non-ASCII kept, a final newline), written atomically."""
    write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsons(paths: Iterable[str]) -> list:
    return [read_json(p) for p in paths]


def spec_hash(spec: Any, length: int = 16) -> str:
    """A stable hash of a JSON-able spec (keys sorted; non-JSON values by their str)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:length]


def save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """``np.savez``-compatible file with fixed member dates (byte-reproducible), written atomically."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
