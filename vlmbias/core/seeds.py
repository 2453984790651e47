"""Seeds as a table option: a table's config section may say ``seeds: N`` and every run of the
table is repeated over N seeds (the config's ``seed``, ``seed + 1``, ...), the table showing the
mean, the standard deviation and N of each cell. No torch here (read while the DAG is parsed).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from vlmbias.core.config import ConfigError


def table_seeds(section: Mapping | None, base_seed: int, where: str = "") -> list[int]:
    """The seeds of a table's runs: ``[base_seed]`` unless its section sets ``seeds: N`` (N >= 1),
    or an explicit list ``seeds: [0, 3, 7]``."""
    value = (section or {}).get("seeds", 1)
    if isinstance(value, bool):
        raise ConfigError(f"{where}seeds: expected a positive integer or a list of integers, got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ConfigError(f"{where}seeds: expected a positive integer, got {value}")
        return [int(base_seed) + i for i in range(value)]
    if isinstance(value, Sequence) and value and all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        if len(set(value)) != len(value):
            raise ConfigError(f"{where}seeds: repeated seeds in {list(value)}")
        return [int(s) for s in value]
    raise ConfigError(f"{where}seeds: expected a positive integer or a list of integers, got {value!r}")


def mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof 1; 0 for one value) and N of the finite values."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(vals)
    if n == 0:
        return float("nan"), float("nan"), 0
    m = sum(vals) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1)) if n > 1 else 0.0
    return m, sd, n


def fmt(mean: float, std: float, n: int, digits: int = 1) -> str:
    """``"mean ± std"`` (just the mean for one seed; blank for none)."""
    if n == 0:
        return ""
    return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"
