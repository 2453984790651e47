"""Benchmarks of the workflow.

    python -m vlmbias.bench [benchmarks/]           # summarise an existing run's benchmark files
    python -m vlmbias.bench run [--cores N] [--workdir DIR] [--configfile F ...]
                                                    # the toy DAG from scratch, timed
    python -m vlmbias.bench dag [--few]             # DAG building of config/paper.yaml
    python -m vlmbias.bench sample [--shards N --per-shard M] [--chunks 1 2 4]
                                                    # the sampler's header pass: samples/s per core
                                                    # beside tarfile and `tar tf`, chunk scaling
    python -m vlmbias.bench loader [--format png|jpeg] [--size 500x375] [--model-throughput IMG_S]
                                                    # decode + training transform, img/s per core
    python -m vlmbias.bench gpu [--out F] [--cpu --tiny]   # the prepared GPU check (vlmbias.gpucheck)

``summarise``: each rule writes ``benchmarks/<family>/<rule>/<job>.tsv`` (the family: ``data``,
``clip``, ``report`` or a table family of the registry: ``dsc``, ``textspan``...); prints, per
rule, the number of jobs, the summed and the largest wall time (s) and the peak max_rss (MB),
then per family.
``run``: runs the default toy config (or the given config files) from scratch in a fresh
directory, echoing Snakemake's progress lines (its whole output goes to
``WORKDIR/bench-snakemake.log``), then prints the summary and the total wall time; a run that
fails, passes ``--timeout`` or is interrupted still prints the summary of the jobs that finished
(marked PARTIAL) and exits non-zero with the log's end. ``dag``: a dry-run of
``config/paper.yaml`` with every dataset pointed at empty placeholder shard files, as many as
paper.yaml names (385,408; ``--few``: 3 per dataset), timed, with its job count per rule.
``loader``: images/s one core decodes and puts through the training transform, per stored
format, and the cores one GPU needs at a model throughput (``vlmbias.train.loader_bench``).
``sample``: the sampler's header pass on synthetic shards (``vlmbias.shards.bench``).
``gpu``: ConvNeXt-T training img/s and MFU beside timm's benchmark, the TextSpan decomposition's
img/s for ViT-B-16, the GPU slots on the real devices; see ``vlmbias.gpucheck``.
"""

from __future__ import annotations

import argparse
import collections
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pandas as pd
import yaml
from braceexpand import braceexpand

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


def summarise(root: str | pd.DataFrame = "benchmarks") -> pd.DataFrame:
    """Per rule: jobs, summed and largest wall time, peak RSS (of a benchmarks/ folder, or of its
    rows as ``_rows`` reads them)."""
    df = root if isinstance(root, pd.DataFrame) else _rows(root)
    out = df.groupby("rule").agg(jobs=("job", "count"), total_s=("s", "sum"), max_s=("s", "max"),
                                 peak_rss_mb=("max_rss", "max")).reset_index()
    total = pd.DataFrame([{"rule": "TOTAL (sum over jobs)", "jobs": int(out["jobs"].sum()),
                           "total_s": out["total_s"].sum(), "max_s": out["max_s"].max(),
                           "peak_rss_mb": out["peak_rss_mb"].max()}])
    return pd.concat([out, total], ignore_index=True)


def by_family(root: str | pd.DataFrame = "benchmarks") -> pd.DataFrame:
    """Per family (data, clip, dsc, textspan, ..., report): jobs, summed and largest wall time,
    and the family's share (%) of the summed job time."""
    df = root if isinstance(root, pd.DataFrame) else _rows(root)
    out = (df.groupby("family").agg(jobs=("job", "count"), total_s=("s", "sum"),
                                    max_s=("s", "max")).reset_index()
           .sort_values("total_s", ascending=False))
    out["share_%"] = 100 * out["total_s"] / out["total_s"].sum()
    return out


def print_summary(root: str) -> None:
    """The per-rule and per-family tables of a benchmarks/ folder (its files read once)."""
    df = _rows(root)
    print(summarise(df).to_string(index=False, float_format="%.1f"))
    print()
    print(by_family(df).to_string(index=False, float_format="%.1f"))


def _snakemake_cmd(args: list[str], workdir: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", workdir, *args]


def _snakemake(args: list[str], workdir: str, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(_snakemake_cmd(args, workdir), capture_output=True, text=True, timeout=timeout, env=env)


PROGRESS = re.compile(r"^\d+ of \d+ steps \(.*\) done")


def run_dag(cores: str, workdir: str | None, configfiles: list[str], timeout: float,
            progress=None) -> dict:
    """The toy DAG (or the given config files) from scratch in ``workdir``. Snakemake's output goes
    to ``workdir/bench-snakemake.log`` as it comes; its progress lines ("12 of 322 steps (4%)
    done") are echoed to ``progress`` (default: stderr). After ``timeout`` s (or on Ctrl-C) the
    run is stopped: its process group, Snakemake and its jobs. Returns wall_s, returncode (None
    when stopped), the log's path and its last lines; the jobs that finished have left their
    benchmark files either way."""
    progress = progress or sys.stderr
    workdir = workdir or tempfile.mkdtemp(prefix="vlmbias-bench-")
    if os.path.exists(os.path.join(workdir, "results")):
        raise SystemExit(f"{workdir} already has results/: give a fresh --workdir")
    os.makedirs(workdir, exist_ok=True)
    extra = ["--configfile", *configfiles] if configfiles else []
    log_path = os.path.join(workdir, "bench-snakemake.log")
    tail: collections.deque[str] = collections.deque(maxlen=40)
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        p = subprocess.Popen(_snakemake_cmd(["--cores", cores, *extra], workdir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)

        def pump() -> None:
            for line in p.stdout:
                log.write(line)
                log.flush()
                tail.append(line)
                if PROGRESS.match(line):
                    print(f"[{time.perf_counter() - t0:7.0f} s] {line.strip()}", file=progress, flush=True)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            returncode = p.wait(timeout=timeout)
        except (subprocess.TimeoutExpired, KeyboardInterrupt) as e:
            _stop(p)
            returncode = None
            tail.append(f"bench: stopped after {time.perf_counter() - t0:.0f} s "
                        f"({'timeout' if isinstance(e, subprocess.TimeoutExpired) else 'interrupted'})\n")
        reader.join(timeout=30)
    return {"workdir": workdir, "wall_s": time.perf_counter() - t0, "returncode": returncode,
            "log": log_path, "tail": "".join(tail)}


def _stop(p: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the run's process group (Snakemake and its jobs); ``grace`` s for Snakemake to
    cancel its jobs, then SIGKILL to whatever of the group is left."""
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def paper_placeholders(tmp: str | os.PathLike, real_counts: bool = True) -> pathlib.Path:
    """A config overlay pointing every dataset of config/paper.yaml (and the material's six) at
    empty placeholder shards under ``tmp``, and the TextSpan text pool at a placeholder file:
    enough for a dry run of the paper's DAG without the data. ``real_counts``: as many
    placeholders as paper.yaml's brace patterns name (385,408 shard files), each named as there;
    otherwise 3 per dataset."""
    tmp = pathlib.Path(tmp)
    with open(ROOT / "config/paper.yaml") as f:
        paper = yaml.safe_load(f)
    datasets = {}
    for name in dict.fromkeys(PAPER_DATASETS + list(paper["datasets"])):
        entry = paper["datasets"].get(name, {})
        if "urbancars_official" in entry:  # a folder the DAG converts first
            root = tmp / "official" / name
            root.mkdir(parents=True, exist_ok=True)
            datasets[name] = {"urbancars_official": str(root)}
            continue
        d = tmp / "shards" / name
        d.mkdir(parents=True, exist_ok=True)
        pattern = os.path.basename(entry["shards"]) if real_counts and isinstance(entry.get("shards"), str) \
            else "{00000..00002}.tar"
        for base in braceexpand(pattern):
            open(d / base, "wb").close()
        datasets[name] = {"shards": str(d / pattern)}
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


NOSLURM = ROOT / "tests" / "workflow" / "noslurm"  # an scontrol that answers at once (see the file)


def slurm_probe_s() -> float:
    """Seconds ``scontrol show config`` takes, as snakemake-executor-plugin-slurm runs it at every
    Snakemake start (0 without scontrol): up to its 10-s timeout where slurm-client is installed
    and no controller answers."""
    if not shutil.which("scontrol"):
        return 0.0
    t0 = time.perf_counter()
    try:
        subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=12)
    except subprocess.TimeoutExpired:
        pass
    return time.perf_counter() - t0


def paper_dag(timeout: float = 1200, real_counts: bool = True, without_slurm_probe: bool = False) -> dict:
    """Dry-run of config/paper.yaml on placeholder shards: (DAG time, jobs per rule, shards).
    ``without_slurm_probe``: with tests/workflow/noslurm's scontrol first on PATH."""
    with tempfile.TemporaryDirectory(prefix="vlmbias-dag-") as tmp:
        override = paper_placeholders(tmp, real_counts)
        n_shards = sum(1 for _ in pathlib.Path(tmp, "shards").rglob("*.tar"))
        env = {**os.environ, "PATH": f"{NOSLURM}{os.pathsep}{os.environ.get('PATH', '')}"} \
            if without_slurm_probe else None
        t0 = time.perf_counter()
        p = _snakemake(["-n", "--cores", "1", "--quiet", "rules", "--configfile",
                        str(ROOT / "config/paper.yaml"), str(override)], str(pathlib.Path(tmp, "work")),
                       timeout, env=env)
        wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"dry-run failed:\n{p.stderr[-4000:]}")
    out = p.stdout + p.stderr
    counts = {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", out.split("Job stats:")[-1],
                                                 flags=re.M)}
    return {"dag_s": wall, "jobs": counts, "shards": n_shards}


def main(argv: list[str] | None = None) -> list[dict] | None:
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
        finished = r["returncode"] == 0
        if any(pathlib.Path(root).rglob("*.tsv")):  # a run stopped early may have none
            if not finished:
                print("PARTIAL: the jobs that finished before the run stopped")
            print_summary(root)
        print(f"\nwall time of the whole run: {r['wall_s']:.1f} s (cores: {a.cores}; "
              f"workdir {r['workdir']}; Snakemake's output: {r['log']})")
        if not finished:
            why = "stopped" if r["returncode"] is None else f"failed (exit {r['returncode']})"
            raise SystemExit(f"snakemake {why}; the end of {r['log']}:\n{r['tail']}")
    elif argv[:1] == ["dag"]:
        ap = argparse.ArgumentParser(prog="python -m vlmbias.bench dag")
        ap.add_argument("--few", action="store_true", help="3 placeholder shards per dataset, not the real counts")
        a = ap.parse_args(argv[1:])
        probe = slurm_probe_s()
        r = paper_dag(real_counts=not a.few)
        jobs = r["jobs"]
        total = jobs.pop("total", sum(jobs.values()))
        print(f"config/paper.yaml ({r['shards']} placeholder shards), jobs per rule:")
        for rule, n in sorted(jobs.items(), key=lambda kv: -kv[1]):
            print(f"  {rule:32s} {n:6d}")
        print(f"DAG building (dry-run, wall): {r['dag_s']:.1f} s for {total} jobs and {r['shards']} shard files")
        if probe > 2:
            r2 = paper_dag(real_counts=not a.few, without_slurm_probe=True)
            print(f"  of which the SLURM plugin's start-up probe: `scontrol show config` took {probe:.1f} s here "
                  f"(slurm-client without a controller); with {NOSLURM.relative_to(ROOT)}/scontrol first on "
                  f"PATH the same dry-run takes {r2['dag_s']:.1f} s")
    elif argv[:1] == ["sample"]:
        from vlmbias.shards import bench as sample_bench

        return sample_bench.main(argv[1:])
    elif argv[:1] == ["loader"]:
        from vlmbias.train import loader_bench

        return loader_bench.main(argv[1:])
    elif argv[:1] == ["gpu"]:
        from vlmbias import gpucheck  # torch, timm, open_clip: only for this subcommand

        gpucheck.main(argv[1:])
    else:
        print_summary(argv[0] if argv else "benchmarks")


if __name__ == "__main__":
    main()
