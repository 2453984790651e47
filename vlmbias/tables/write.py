"""Writing a table: the reproduced value beside the value the material reports, as CSV and
Markdown (a heading, notes, then the table), written atomically."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from vlmbias.core.io import atomic_path, write_text


def write_table(df: pd.DataFrame, csv_path: str, md_path: str, title: str,
                notes: list[str] | None = None, md_df: pd.DataFrame | None = None) -> None:
    """``df`` as CSV; as Markdown too, unless ``md_df`` gives the Markdown's own (formatted) frame
    (e.g. "mean ± std" cells where the CSV keeps the numbers in columns of their own)."""
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    df = md_df if md_df is not None else df
    lines = [f"# {title}", ""]
    lines += [f"- {n}" for n in notes or []]
    if notes:
        lines.append("")
    lines.append(df.astype(object).where(df.notna(), None).to_markdown(index=False, floatfmt=".1f", missingval=""))
    write_text(md_path, "\n".join(lines) + "\n")


def data_description(config: Mapping) -> str:
    toy = [n for n, e in config["datasets"].items() if e.get("toy")]
    if len(toy) == len(config["datasets"]):
        return ("the procedural toy world (stand-ins with planted biases, not the real datasets: "
                "compare the pattern across rows, not the values)")
    if toy:
        return f"real shards, except the toy-world stand-ins for {', '.join(toy)}"
    return "real shards"


def value_or_nan(value) -> float:
    """A reported value as a float cell: NaN (blank in Markdown) where the material gives none."""
    return float(value) if value is not None else float("nan")
