"""The workflow on a real SLURM cluster: a private single-node cluster (tests/slurmcluster.py;
Debian's slurmctld/slurmd/munge, installed when missing) with two fake GPUs, the tiny config run
through profiles/slurm (a copy with the partition and sizes of this cluster). Every job is a
SLURM job, GPU rules are submitted with a GPU and see CUDA_VISIBLE_DEVICES, and the tables are
byte-identical to the local run's."""

import os
import re

import pytest
import yaml

from tinyflow import ROOT, Timeout, run_snakemake, table_bytes

GPU_RULE_RE = re.compile(r"^(?:rule (\w+):|use rule (\w+) as (\w+) with:)\n(.*?)(?=^rule |^use rule |^# |\Z)",
                         re.S | re.M)


def gpu_rules(configured: bool = False) -> set[str]:
    """Rules whose resources ask for a GPU (``gpu=`` in their rule body), and the rules derived
    from them by ``use rule`` that do not set resources of their own. ``configured``: only those
    whose GPU count is not a number literal there (set from the config, e.g. train_dsc's
    ``gpu=DSC_GPUS``)."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "rules").glob("*.smk")))
    gpu, derived = set(), []
    for name, parent, child, body in GPU_RULE_RE.findall(text):
        m = re.search(r"^\s+resources:.*?^\s+gpu=([^,\n]+)", body, re.S | re.M)
        if m:
            if not configured or not m.group(1).strip().isdigit():
                gpu.add(name or child)
        elif parent and not re.search(r"^\s+resources:", body, re.M):
            derived.append((parent, child))
    return gpu | {child for parent, child in derived if parent in gpu}


def test_slurm_profile_sends_every_gpu_rule_to_the_gpu_partition():
    """profiles/slurm must name every GPU rule (a rule missing there would be submitted to the
    CPU partition): new GPU rules get an entry like pretrain_mae's (``*gpu_job``). A rule whose
    GPU count comes from the config (train_dsc: train_gpus) must not set ``gpu`` there (the
    profile would override the config) and asks for one node: its N GPUs serve one DDP run."""
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    rules, configured = gpu_rules(), gpu_rules(configured=True)
    assert {"train_dsc", "pretrain_mae", "probe"} <= rules and configured == {"train_dsc"}
    gpu_partition = profile["set-resources"]["train_dsc"]["slurm_partition"]
    for rule in rules:
        entry = profile["set-resources"].get(rule)
        assert entry, f"profiles/slurm/config.yaml has no set-resources entry for GPU rule {rule}"
        assert entry["slurm_partition"] == gpu_partition, (rule, entry)
        if rule in configured:
            assert "gpu" not in entry and entry["nodes"] == 1, (rule, entry)
        else:
            assert entry.get("gpu", 0) >= 1, (rule, entry)
    assert profile["slurm-status-command"] == "squeue"


def ci_profile(tmp_path, partition: str) -> str:
    """profiles/slurm adapted to the test cluster: one partition, small memory and time
    requests, fast status polling, SLURM logs kept; everything else as shipped."""
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    small = {"slurm_partition": partition, "mem_mb": 400, "runtime": 15}
    profile["default-resources"] = {**profile["default-resources"], **small}
    for rule, res in profile["set-resources"].items():
        res.update(small)
        if "cpus_per_gpu" in res:
            res["cpus_per_gpu"] = 1
    profile.update({"jobs": 4, "latency-wait": 5, "retries": 0, "keep-going": False,
                    "slurm-init-seconds-before-status-checks": 2,
                    "slurm-keep-successful-logs": True})
    d = tmp_path / "profile"
    d.mkdir()
    (d / "config.yaml").write_text(yaml.safe_dump(profile))
    return str(d)


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("the SLURM test needs root (installs slurm/munge, writes /etc/slurm, runs the "
                    "daemons); run the tests as root, or deselect with -m 'not slurm'")
    import slurmcluster

    try:
        c = slurmcluster.start()
    except slurmcluster.ClusterUnavailable as e:
        pytest.fail(f"could not start the test SLURM cluster: {e}")
    yield c
    c.cancel_all()
    c.stop()


@pytest.mark.slurm
def test_workflow_on_slurm(cluster, tiny_run, tiny_config_file, tmp_path):
    work = tmp_path / "slurm"
    args = ["--workflow-profile", ci_profile(tmp_path, cluster.partition),
            "--slurm-status-command", "squeue", "--configfile", tiny_config_file]
    try:
        p = run_snakemake(args, work, timeout=480, env={"SNAKEMAKE_PROFILE": "none", "PATH": cluster.env()["PATH"]})
    except Timeout:
        cluster.cancel_all()
        raise
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]

    # every job that is not a local rule ran as a SLURM job: its log names the job id, and
    # the SLURM log of that id exists
    local = {"table_html", "figure_report"}
    logs = [f for f in (work / "logs").rglob("*.log") if f.parent.name not in local
            and f.parent.name != "report"]
    assert len(logs) == 3 + 3 + 2 + 3  # toyworld, sample, train_dsc (2 runs), 3 tables
    slurm_logs = {f.stem: f for f in (work / ".snakemake/slurm_logs").rglob("*.log")}
    job_ids = {}
    for log in logs:
        m = re.search(r"SLURM job (\d+)", log.read_text())
        assert m, f"{log} does not name a SLURM job:\n{log.read_text()[:1500]}"
        job_ids[log] = m.group(1)
        assert m.group(1) in slurm_logs, (log, sorted(slurm_logs))
    assert len(set(job_ids.values())) == len(logs)

    # GPU rules were submitted with a GPU and saw CUDA_VISIBLE_DEVICES; CPU rules got none
    for log, job in job_ids.items():
        rule = log.relative_to(work / "logs").parts[0]
        info = cluster.show_job(job)
        assert f"JobId={job}" in info, info
        if rule in gpu_rules():
            assert re.search(r"TresPerJob=.*gpu:1", info), info
            assert re.search(r"GPU assignment: slurm \(CUDA_VISIBLE_DEVICES='\d'\)",
                             log.read_text()), log.read_text()[:1500]
        else:
            assert "gpu" not in (re.search(r"TresPerJob=(\S*)", info) or ["", ""])[1], info
    assert sum(r.relative_to(work / "logs").parts[0] == "train_dsc" for r in job_ids) == 2

    # the same tables as the local run, byte for byte
    assert table_bytes(work) == table_bytes(tiny_run)
