"""Workflow-level checks on the tiny config (tests/tinyflow.py; ~1 min per run on 2 cores):
determinism (two runs, byte-identical CSV tables), the HTML report, single-rule reruns
(dry-runs), GPU slots on a (fake) multi-GPU workstation, and a training job killed mid-run that
`--rerun-incomplete` resumes from its checkpoint to the uninterrupted run's metrics."""

import json
import os
import re
import subprocess
import sys
import time

import pytest

from tinyflow import (TINY_MODELS, TINY_TABLES, check, kill_group, run_snakemake, table_bytes,
                      ROOT)
from vlmbias.tables import registry

pytestmark = pytest.mark.workflow
RUN = "yfcc+cc+datacomp__{}__n60"
STABLE = lambda m: {k: v for k, v in m.items() if k != "run_info"}  # noqa: E731


def dry_jobs(workdir, config, *args) -> set[tuple[str, str]]:
    """(rule, first output) of every job a dry-run would execute."""
    p = check(run_snakemake([*args, "-n", "--cores", "2", "--configfile", config], workdir,
                            timeout=300))
    jobs = set()
    for rule, body in re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", p.stdout, re.S | re.M):
        out = re.search(r"^\s+output: ([^,\n]+)", body, re.M)
        jobs.add((rule, out.group(1) if out else ""))
    return jobs


def test_two_runs_give_byte_identical_tables(tiny_run, tiny_run_b):
    a, b = table_bytes(tiny_run), table_bytes(tiny_run_b)
    assert sorted(a) == sorted(f"{t}.csv" for t in TINY_TABLES)
    assert a == b
    # and so do the metrics of every run, up to what may differ (wall time, host, device)
    for model in TINY_MODELS:
        ma, mb = (json.loads((w / f"results/runs/dsc/{RUN.format(model)}/metrics.json").read_text())
                  for w in (tiny_run, tiny_run_b))
        assert STABLE(ma) == STABLE(mb)


def test_report_holds_every_table_and_figure(tiny_run, tiny_config_file):
    p = check(run_snakemake(["--cores", "1", "--configfile", tiny_config_file,
                             "--report", "results/report.html"], tiny_run, timeout=300))
    html = (tiny_run / "results/report.html").read_text()
    assert len(html) > 100_000, p.stderr[-2000:]
    cats = json.loads(re.search(r"var categories = (\{.*?\});\n", html).group(1))
    paper = registry.category("t02_architectures")
    assert list(cats) == [paper]  # grouped per paper, then per table
    assert set(cats[paper]) == set(TINY_TABLES)
    for t in TINY_TABLES:
        assert f"results/report/{t}.html" in cats[paper][t]
    assert "results/report/f03_model_size.png" in cats[paper]["f03_model_size"]
    # captions: what it is, which paper, which config
    assert registry.table("t10_composition").title in html and "tiny.yaml" in html
    assert "resolved config hash" in html
    # the rendered table page: reproduced beside reported, figure embedded
    page = (tiny_run / "results/report/f03_model_size.html").read_text()
    assert 'class="reproduced">reproduced_acc' in page and 'class="reported">reported_acc' in page
    assert "data:image/png;base64," in page and "72.4" in page  # the 7K model's reported value


def test_forcerun_one_training_run_rebuilds_only_its_dependants(tiny_run, tiny_config_file):
    run = RUN.format("convnext_7k")
    metrics = f"results/runs/dsc/{run}/metrics.json"
    jobs = dry_jobs(tiny_run, tiny_config_file, "--forcerun", metrics)
    assert jobs == {
        ("train_dsc", metrics),
        ("dsc_table", "results/tables/t02_architectures.csv"),
        ("dsc_figure_table", "results/tables/f03_model_size.csv"),
        ("table_html", "results/report/t02_architectures.html"),
        ("table_html", "results/report/f03_model_size.html"),
        ("figure_report", "results/report/f03_model_size.png"),
        ("all", ""),
    }
    # the whole training rule: both runs and the same tables, nothing upstream
    rules = {r for r, _ in dry_jobs(tiny_run, tiny_config_file, "--forcerun", "train_dsc")}
    assert rules == {"train_dsc", "dsc_table", "dsc_figure_table", "table_html", "figure_report", "all"}
    # one table's target rule, its writing rule forced: that table alone
    jobs = dry_jobs(tiny_run, tiny_config_file, "t10_composition", "--forcerun", "composition_table")
    assert jobs == {("composition_table", "results/tables/t10_composition.csv"), ("t10_composition", "")}


def test_concurrent_gpu_jobs_get_distinct_slots(tiny_run):
    """Run A had two fake GPUs and --resources gpu=2: each training job logged its slot; two
    jobs whose runs overlapped in time held different devices."""
    spans = []
    for model in TINY_MODELS:
        log = (tiny_run / f"logs/train_dsc/{RUN.format(model)}.log").read_text()
        dev = re.search(r"GPU assignment: slots \(CUDA_VISIBLE_DEVICES='(\d)'\)", log)
        assert dev, log[:2000]
        stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) ", log, re.M)
        spans.append((stamps[0], stamps[-1], dev.group(1)))
    (s1, e1, d1), (s2, e2, d2) = spans
    if s1 <= e2 and s2 <= e1:
        assert d1 != d2, spans
    for name in os.listdir(tiny_run / "gpu-locks"):
        assert re.fullmatch(r"gpu[01]\.lock", name)


def test_killed_training_job_resumes_to_the_uninterrupted_metrics(tiny_run, tiny_config_file,
                                                                  tmp_path, checkpoint_every_epoch):
    run = RUN.format("convnext_t")
    target = f"results/runs/dsc/{run}/metrics.json"
    work = tmp_path / "interrupted"
    config = ["--configfile", tiny_config_file]
    # the samples first (so the kill below lands in training)
    check(run_snakemake([*(f"results/samples/{d}/index.parquet" for d in ("yfcc", "cc", "datacomp")),
                         "--cores", "2", *config], work, timeout=300))
    ckpt = work / f"results/runs/dsc/{run}/checkpoint.pt"
    for attempt in range(3):
        cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(work),
               target, "--cores", "1", *map(str, config)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 300
        while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.005)
        kill_group(proc)  # SIGKILL snakemake and its job, mid-training
        assert ckpt.exists(), "no checkpoint written before the kill"
        if not (work / target).exists():
            break
        # the run finished between the checkpoint and the kill (a loaded machine): again
        for f in (work / target).parent.iterdir():
            f.unlink()
    else:
        pytest.fail("the training job finished before it could be killed, three times")
    check(run_snakemake(["--unlock", *config], work, timeout=120))  # SIGKILL left the lock
    p = check(run_snakemake([target, "--cores", "1", "--rerun-incomplete", *config], work,
                            timeout=300))
    assert "train_dsc" in p.stderr + p.stdout
    resumed = json.loads((work / target).read_text())
    reference = json.loads((tiny_run / target).read_text())
    assert resumed["run_info"]["resumed_from_epoch"] >= 1
    assert STABLE(resumed) == STABLE(reference)
