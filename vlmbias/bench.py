"""Benchmarks of the workflow.

    python -m vlmbias.bench [benchmarks/]           # summarise an existing run's benchmark files
    python -m vlmbias.bench run [--cores N] [--workdir DIR] [--configfile F ...]
                                                    # the toy DAG from scratch, timed
    python -m vlmbias.bench dag                     # DAG building of config/paper.yaml

``summarise``: each rule writes ``benchmarks/<family>/<rule>/<job>.tsv`` (the family: ``data``,
``clip``, ``report`` or a table family of the registry: ``dsc``, ``textspan``...); prints, per
rule, the number of jobs, the summed and the largest wall time (s) and the peak max_rss (MB),
then per family.
``run``: runs the default toy config (or the given config files) from scratch in a fresh
directory, then prints the summary and the total wall time. ``dag``: a dry-run of
``config/paper.yaml`` with every dataset pointed at placeholder shard files (the material's full
protocol), timed, with its job count per rule.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import pandas as pd
import yaml

from vlmbias.dsc.spec import PAPER_DATASETS

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _rows(root: str) -> pd.DataFrame:
    rows = []
    for tsv in sorted(pathlib.Path(root).rglob("*.tsv")):
        family, rule, *job = tsv.relative_to(root).with_suffix("").parts
        b = pd.read_csv(tsv, sep="\t")
        rows.append({"family": family, "rule": rule, "job": "/".join(job), "s": float(b["s"].iloc[-1]),
                     "max_rss": float(pd.to_numeric(b["max_rss"], errors="coerce").iloc[-1])})
    if not rows:
        raise SystemExit(f"no benchmark files under {root}/")
    return pd.DataFrame(rows)


def summarise(root: str = "benchmarks") -> pd.DataFrame:
    """Per rule: jobs, summed and largest wall time, peak RSS."""
    df = _rows(root)
    out = df.groupby("rule").agg(jobs=("job", "count"), total_s=("s", "sum"), max_s=("s", "max"),
                                 peak_rss_mb=("max_rss", "max")).reset_index()
    total = pd.DataFrame([{"rule": "TOTAL (sum over jobs)", "jobs": int(out["jobs"].sum()),
                           "total_s": out["total_s"].sum(), "max_s": out["max_s"].max(),
                           "peak_rss_mb": out["peak_rss_mb"].max()}])
    return pd.concat([out, total], ignore_index=True)


def by_family(root: str = "benchmarks") -> pd.DataFrame:
    """Per family (data, clip, dsc, textspan, ..., report): jobs and wall time."""
    df = _rows(root)
    return (df.groupby("family").agg(jobs=("job", "count"), total_s=("s", "sum"),
                                     max_s=("s", "max")).reset_index()
            .sort_values("total_s", ascending=False))


def _snakemake(args: list[str], workdir: str, timeout: float) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", workdir, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def run_dag(cores: str, workdir: str | None, configfiles: list[str], timeout: float) -> dict:
    workdir = workdir or tempfile.mkdtemp(prefix="vlmbias-bench-")
    if os.path.exists(os.path.join(workdir, "results")):
        raise SystemExit(f"{workdir} already has results/: give a fresh --workdir")
    extra = ["--configfile", *configfiles] if configfiles else []
    t0 = time.perf_counter()
    p = _snakemake(["--cores", cores, *extra], workdir, timeout)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"snakemake failed:\n{p.stderr[-4000:]}")
    return {"workdir": workdir, "wall_s": wall}


def paper_placeholders(tmp: str | os.PathLike) -> pathlib.Path:
    """A config overlay pointing every dataset of config/paper.yaml (and the material's six) at
    empty placeholder shards under ``tmp``, and the TextSpan text pool at a placeholder file:
    enough for a dry run of the paper's DAG without the data."""
    tmp = pathlib.Path(tmp)
    with open(ROOT / "config/paper.yaml") as f:
        paper = yaml.safe_load(f)
    datasets = {}
    for name in dict.fromkeys(PAPER_DATASETS + list(paper["datasets"])):
        if "urbancars_official" in paper["datasets"].get(name, {}):  # a folder the DAG converts first
            root = tmp / "official" / name
            root.mkdir(parents=True, exist_ok=True)
            datasets[name] = {"urbancars_official": str(root)}
            continue
        d = tmp / "shards" / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            (d / f"{i:05d}.tar").touch()
        datasets[name] = {"shards": str(d / "{00000..00002}.tar")}
    extra: dict = {"datasets": datasets}
    if "textspan" in paper:
        pool = tmp / "image_descriptions_general.txt"
        pool.write_text("Photo taken in Spain\nA bowl\n")
        extra["textspan"] = {"pool": str(pool)}
    if "b2t" in paper:  # the released files B2T reads: ClipCap, GPT-2's tokenizer, the ERM checkpoints
        (tmp / "gpt2").mkdir(exist_ok=True)
        for name in ("clipcap.pt", "waterbirds_erm.pth", "celeba_erm.pth"):
            (tmp / name).touch()
        extra["b2t"] = {"captioner": {"weights": str(tmp / "clipcap.pt"), "tokenizer": str(tmp / "gpt2")},
                        "classifier": {"checkpoints": {t: str(tmp / f"{t}_erm.pth") for t in ("waterbirds", "celeba")}}}
    if ((paper.get("lle") or {}).get("imagenet") or {}).get("in9_map"):  # IN-9's class map (a file the job reads)
        (tmp / "in_to_in9.json").write_text("[]")
        extra["lle"] = {"imagenet": {"in9_map": str(tmp / "in_to_in9.json")}}
    override = tmp / "shards.yaml"
    override.write_text(yaml.safe_dump(extra))
    return override


def paper_dag(timeout: float = 1200) -> dict:
    """Dry-run of config/paper.yaml on placeholder shards: (DAG time, jobs per rule)."""
    with tempfile.TemporaryDirectory(prefix="vlmbias-dag-") as tmp:
        override = paper_placeholders(tmp)
        t0 = time.perf_counter()
        p = _snakemake(["-n", "--cores", "1", "--quiet", "rules", "--configfile",
                        str(ROOT / "config/paper.yaml"), str(override)], str(pathlib.Path(tmp, "work")),
                       timeout)
        wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"dry-run failed:\n{p.stderr[-4000:]}")
    out = p.stdout + p.stderr
    counts = {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:")[-1],
                                                 flags=re.M)}
    return {"dag_s": wall, "jobs": counts}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        ap = argparse.ArgumentParser(prog="python -m vlmbias.bench run")
        ap.add_argument("--cores", default="all")
        ap.add_argument("--workdir")
        ap.add_argument("--configfile", nargs="*", default=[])
        ap.add_argument("--timeout", type=float, default=6 * 3600)
        a = ap.parse_args(argv[1:])
        r = run_dag(a.cores, a.workdir, [os.path.abspath(f) for f in a.configfile], a.timeout)
        root = os.path.join(r["workdir"], "benchmarks")
        print(summarise(root).to_string(index=False, float_format="%.1f"))
        print()
        print(by_family(root).to_string(index=False, float_format="%.1f"))
        print(f"\nwall time of the whole run: {r['wall_s']:.1f} s (cores: {a.cores}; "
              f"workdir {r['workdir']})")
    elif argv[:1] == ["dag"]:
        r = paper_dag()
        jobs = r["jobs"]
        total = jobs.pop("total", sum(jobs.values()))
        print("config/paper.yaml (placeholder shards), jobs per rule:")
        for rule, n in sorted(jobs.items(), key=lambda kv: -kv[1]):
            print(f"  {rule:32s} {n:6d}")
        print(f"DAG building (dry-run, wall): {r['dag_s']:.1f} s for {total} jobs")
    else:
        root = argv[0] if argv else "benchmarks"
        print(summarise(root).to_string(index=False, float_format="%.1f"))
        print()
        print(by_family(root).to_string(index=False, float_format="%.1f"))


if __name__ == "__main__":
    main()
