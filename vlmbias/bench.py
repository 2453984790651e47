"""Summarise Snakemake ``benchmark:`` files: wall time per rule and in total.

    python -m vlmbias.bench [benchmarks/]

Each rule writes ``benchmarks/<rule>/<job>.tsv``; this prints, per rule, the number of jobs,
the summed and the largest wall time (s) and the peak max_rss (MB).
"""

from __future__ import annotations

import pathlib
import sys

import pandas as pd


def summarise(root: str = "benchmarks") -> pd.DataFrame:
    rows = []
    for tsv in sorted(pathlib.Path(root).glob("*/*.tsv")):
        b = pd.read_csv(tsv, sep="\t")
        rows.append({"rule": tsv.parent.name, "job": tsv.stem, "s": float(b["s"].iloc[-1]),
                     "max_rss": float(pd.to_numeric(b["max_rss"], errors="coerce").iloc[-1])})
    if not rows:
        raise SystemExit(f"no benchmark files under {root}/")
    df = pd.DataFrame(rows)
    out = df.groupby("rule").agg(jobs=("job", "count"), total_s=("s", "sum"), max_s=("s", "max"),
                                 peak_rss_mb=("max_rss", "max")).reset_index()
    total = pd.DataFrame([{"rule": "TOTAL (sum over jobs)", "jobs": int(out["jobs"].sum()),
                           "total_s": out["total_s"].sum(), "max_s": out["max_s"].max(),
                           "peak_rss_mb": out["peak_rss_mb"].max()}])
    return pd.concat([out, total], ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    print(summarise(argv[0] if argv else "benchmarks").to_string(index=False, float_format="%.1f"))


if __name__ == "__main__":
    main()
