"""The one table registry (``registry.yaml`` beside this module): every table and figure the
workflow regenerates, with its family, title, the config section that switches it on, the rule
and the writer that produce it, its figures, and the values the material reports.

rules/common.smk builds the targets and one target rule per table from it, rules/*.smk
constrain their table rules to the ids it assigns them, the report takes its categories and
the benchmark its families from it, and the DAG tests are parametrized over it. No torch here:
it is read while Snakemake parses the workflow.

A table's rule hands its script the declared inputs and outputs; the script builds a
:class:`TableJob` and calls :func:`write`, which calls the table's writer.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Callable, Mapping

import yaml

FIGURE_KINDS = ("none", "one", "per_model")
OTHER_FAMILY = "Other results"


@dataclass(frozen=True)
class Table:
    id: str
    family: str
    title: str
    config: tuple[str, ...]       # the section that switches the table on
    rule: str                     # the rule that writes results/tables/<id>.{csv,md}
    writer: str                   # module:function
    source: str                   # where the reported values come from
    reported: Mapping[str, Any] = field(default_factory=dict)
    rows: str | None = None       # module:function (config, table section) -> rows
    figures: str = "none"
    figures_per: tuple[str, ...] = ()

    @property
    def heading(self) -> str:
        """The first line of the Markdown table."""
        return f"{self.id}: {self.title}"

    def section(self, config: Mapping) -> Any:
        """The config section of the table (None when absent)."""
        node: Any = config
        for key in self.config:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
        return node

    def enabled(self, config: Mapping) -> bool:
        return bool(self.section(config))

    def figure_paths(self, config: Mapping) -> list[str]:
        if self.figures == "one":
            return [f"results/figures/{self.id}.png"]
        if self.figures == "per_model":
            return [f"results/figures/{self.id}_{name}.png" for name in self.figure_models(config)]
        return []

    def figure_models(self, config: Mapping) -> list[str]:
        node: Any = config
        for key in self.figures_per:
            node = (node or {}).get(key)
        return list(node or [])


def _resolve(ref: str) -> Callable:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, str], dict[str, Table]]:
    with resources.files("vlmbias.tables").joinpath("registry.yaml").open() as f:
        data = yaml.safe_load(f)
    tables = {}
    for tid, entry in data["tables"].items():
        entry = dict(entry)
        entry["config"] = tuple(entry["config"].split("."))
        entry["figures_per"] = tuple(entry["figures_per"].split(".")) if entry.get("figures_per") else ()
        if entry.get("figures", "none") not in FIGURE_KINDS:
            raise ValueError(f"registry.yaml: {tid}: figures must be one of {FIGURE_KINDS}")
        if entry["family"] not in data["families"]:
            raise ValueError(f"registry.yaml: {tid}: unknown family {entry['family']!r}")
        tables[tid] = Table(id=tid, **entry)
    return dict(data["families"]), tables


def families() -> dict[str, str]:
    """Family key -> the paper it reproduces (the report's category)."""
    return _load()[0]


def tables() -> dict[str, Table]:
    """Every table, in the material's order."""
    return _load()[1]


def table(table_id: str) -> Table:
    try:
        return tables()[table_id]
    except KeyError:
        raise KeyError(f"no table {table_id!r} in the registry (known: {list(tables())})") from None


def ids(rule: str | None = None, family: str | None = None) -> list[str]:
    """Table ids, whatever the config, optionally those of one rule or one family."""
    return [t.id for t in tables().values()
            if (rule is None or t.rule == rule) and (family is None or t.family == family)]


def enabled(config: Mapping, rule: str | None = None, family: str | None = None) -> list[str]:
    """The tables ``config`` asks for, in the material's order."""
    return [tid for tid in ids(rule, family) if tables()[tid].enabled(config)]


def figure_paths(config: Mapping) -> list[str]:
    return [p for tid in enabled(config) for p in tables()[tid].figure_paths(config)]


def rows(table_id: str, config: Mapping) -> list[dict]:
    """The rows of a table that has a row builder: ``fn(config, section)``."""
    t = table(table_id)
    if t.rows is None:
        raise ValueError(f"{table_id} has no row builder in the registry")
    try:
        return _resolve(t.rows)(config, t.section(config))
    except ValueError as e:  # config errors: say which section
        raise type(e)(f"{'.'.join(t.config)}: {e}") from None


def table_of(name: str) -> str | None:
    """The table id of a table or figure name (``<table id>`` or ``<table id>_<model>``)."""
    for tid in tables():
        if name == tid or name.startswith(f"{tid}_"):
            return tid
    return None


def category(name: str) -> str:
    """The report category (the paper) of a table or figure name."""
    tid = table_of(name)
    return families()[tables()[tid].family] if tid else OTHER_FAMILY


def reported(table_id: str) -> Mapping[str, Any]:
    return table(table_id).reported


def reported_value(table_id: str, key: str) -> Any:
    return table(table_id).reported.get(key)


@dataclass
class TableJob:
    """What a table rule hands its writer: the table id, the rule's declared inputs, outputs
    and params (Snakemake's named lists, or plain mappings in tests), and the config."""

    id: str
    input: Any
    output: Any
    params: Any
    config: Mapping

    @property
    def table(self) -> Table:
        return table(self.id)

    @property
    def heading(self) -> str:
        return self.table.heading

    @classmethod
    def from_snakemake(cls, smk) -> "TableJob":
        return cls(smk.params.table, smk.input, smk.output, smk.params, smk.config)


def write(job: TableJob):
    """Write a table with its registered writer."""
    return _resolve(job.table.writer)(job)
