"""Workflow-level runs of the tiny config (tests/workflow/tinyflow.py), shared by
test_workflow_runs.py and test_slurm.py: run A (local, two fake GPUs) and run B (local, plain)
are made once per session."""

import pytest
from tinyflow import check, run_snakemake, write_tiny_config

from vlmbias.bench import paper_placeholders


@pytest.fixture(scope="session")
def tiny_config_file(tmp_path_factory):
    return write_tiny_config(tmp_path_factory.mktemp("tiny") / "tiny.yaml")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_config_file):
    """Run A: the tiny config, locally, as on a workstation with two (fake) GPUs: --resources
    gpu=2, so the two training jobs may run at once, each on a GPU slot of its own."""
    work = tmp_path_factory.mktemp("tiny_a")
    env = {"VLMBIAS_GPU_COUNT": "2", "VLMBIAS_GPU_LOCK_DIR": str(work / "gpu-locks")}
    check(run_snakemake(["--cores", "2", "--resources", "gpu=2", "--configfile", tiny_config_file],
                        work, timeout=600, env=env))
    return work


@pytest.fixture(scope="session")
def tiny_run_b(tmp_path_factory, tiny_config_file):
    """Run B: the same config again, from scratch, in another directory."""
    work = tmp_path_factory.mktemp("tiny_b")
    check(run_snakemake(["--cores", "2", "--configfile", tiny_config_file], work, timeout=600))
    return work


@pytest.fixture(scope="session")
def paper_with_placeholders(tmp_path_factory):
    """config/paper.yaml with every dataset pointed at placeholder shard files (and the TextSpan
    text pool at a placeholder file)."""
    tmp = tmp_path_factory.mktemp("paper")
    override = paper_placeholders(tmp, real_counts=False)
    return tmp, override
