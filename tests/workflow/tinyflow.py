"""The tiny workflow config shared by the workflow-level tests (determinism, report, reruns,
interruption, SLURM), and a Snakemake runner with a hard timeout.

The tiny config is derived from config/config.yaml (so it follows the default config as it
evolves): three toy sources, ~100 images each, two small ConvNeXts trained on 640 samples, and
three tables — t02_architectures (two models), f03_model_size (the same two runs: a figure) and
t10_composition. Its local run takes about a minute on 2 cores."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY_DATASETS = ["yfcc", "cc", "datacomp"]
TINY_TABLES = ["t02_architectures", "f03_model_size", "t10_composition"]
TINY_MODELS = ["convnext_7k", "convnext_t"]
# top-level sections the tiny config keeps; other families' sections are dropped
KEEP = {"seed", "max_bad_fraction", "toyworld", "datasets", "sampling", "models", "train",
        "augmentations", "corruptions", "dataset_classification"}


def tiny_config() -> dict:
    with open(ROOT / "config" / "config.yaml") as f:
        cfg = yaml.safe_load(f)
    cfg = {k: v for k, v in cfg.items() if k in KEEP}
    cfg["toyworld"].update(n_images=110, n_shards=2, image_size=40)
    cfg["datasets"] = {d: {"toy": d} for d in TINY_DATASETS}
    cfg["sampling"].update(n_train=60, n_val=24, max_side=40)
    cfg["models"] = {m: cfg["models"][m] for m in TINY_MODELS}
    cfg["train"].update(batch_size=32, samples_seen=640, warmup_samples=64, train_acc_samples=60)
    dc = cfg["dataset_classification"]
    cfg["dataset_classification"] = {
        "t02_architectures": {"datasets": TINY_DATASETS, "models": TINY_MODELS},
        "f03_model_size": {"datasets": TINY_DATASETS, "models": TINY_MODELS,
                           "reported_as": dc["f03_model_size"].get("reported_as", {})},
        "t10_composition": {"datasets": TINY_DATASETS,
                            "attributes": dc["t10_composition"].get("attributes")},
    }
    return cfg


def write_tiny_config(path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    return path


class Timeout(AssertionError):
    pass


def run_snakemake(args, workdir, timeout=600, env=None, snakemake=None) -> subprocess.CompletedProcess:
    """Snakemake in a process group of its own; past ``timeout`` the whole group is SIGKILLed
    (the SLURM executor may ignore SIGTERM) and :class:`Timeout` is raised."""
    cmd = [*(snakemake or [sys.executable, "-m", "snakemake"]), "-s", str(ROOT / "Snakefile"),
           "-d", str(workdir), *map(str, args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        raise Timeout(f"snakemake {' '.join(map(str, args))} ran past {timeout} s and was killed\n"
                      f"{out[-3000:]}\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def check(p: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if p.returncode:
        raise AssertionError(f"snakemake failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
    return p


def table_bytes(workdir: pathlib.Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((workdir / "results/tables").glob("*.csv"))}
