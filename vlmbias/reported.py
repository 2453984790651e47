"""The numbers the material reports, shipped with the package (vlmbias/data/reported.yaml)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml


@lru_cache(maxsize=1)
def reported() -> dict:
    with resources.files("vlmbias").joinpath("data/reported.yaml").open() as f:
        return yaml.safe_load(f)


def reported_value(table_id: str, key: str) -> float | None:
    return reported().get(table_id, {}).get(key)
