"""GPU slots on a workstation (vlmbias/core/gpu.py) with fake devices: concurrent jobs get distinct
devices, a job waits for a free one, a killed job frees its slot, SLURM's binding is respected,
no GPU means CPU."""

import os
import subprocess
import sys
import time
import types

import pytest

from vlmbias.core import gpu, smk


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Environment of a machine with ``n`` fake GPUs and a private lock directory."""
    for var in ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("VLMBIAS_GPU_LOCK_DIR", str(tmp_path / "locks"))

    def machine(n):
        monkeypatch.setenv("VLMBIAS_GPU_COUNT", str(n))
        return {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    yield machine
    gpu.release()


def holder(env, n=1, hold_s=30.0):
    """A process that takes ``n`` slots and prints its CUDA_VISIBLE_DEVICES, then holds them."""
    p = subprocess.Popen([sys.executable, "-m", "vlmbias.core.gpu", str(n), str(hold_s)], env=env,
                         stdout=subprocess.PIPE, text=True)
    return p


def test_concurrent_jobs_get_distinct_devices(fake):
    env = fake(3)
    procs = [holder(env) for _ in range(3)]
    try:
        got = [p.stdout.readline().strip() for p in procs]
        assert sorted(got) == ["0", "1", "2"]
        # a fourth job finds every slot taken: it waits, then fails past its wait limit
        late = subprocess.run([sys.executable, "-m", "vlmbias.core.gpu", "1"], capture_output=True,
                              text=True, env={**env, "VLMBIAS_GPU_WAIT_S": "1"}, timeout=60)
        assert late.returncode != 0 and "no free GPU slot" in late.stderr
        # a SIGKILLed job frees its slot at once (the kernel drops its lock)
        victim = procs[got.index("1")]
        victim.kill()
        victim.wait()
        again = subprocess.run([sys.executable, "-m", "vlmbias.core.gpu", "1"], capture_output=True,
                               text=True, env={**env, "VLMBIAS_GPU_WAIT_S": "5"}, timeout=60)
        assert again.returncode == 0 and again.stdout.strip() == "1"
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_waiting_job_gets_the_slot_when_freed(fake):
    env = fake(1)
    first = holder(env, hold_s=1.5)
    assert first.stdout.readline().strip() == "0"
    t0 = time.monotonic()
    second = subprocess.run([sys.executable, "-m", "vlmbias.core.gpu", "1"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert second.returncode == 0 and second.stdout.strip() == "0"
    assert time.monotonic() - t0 > 0.5  # it waited for the first one
    first.wait()


def test_multi_gpu_job_and_user_pool(fake, monkeypatch):
    fake(4)
    a = gpu.assign(2)
    assert a.source == "slots" and len(set(a.devices)) == 2
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ",".join(a.devices)
    gpu.release()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # the user's pool
    b = gpu.assign(1)
    assert b.devices[0] in {"2", "3"} and os.environ["CUDA_VISIBLE_DEVICES"] == b.devices[0]
    with pytest.raises(RuntimeError, match="asks for 5 GPUs"):
        gpu.acquire(5, ["0", "1"])


def test_slurm_binding_respected(fake, monkeypatch, tmp_path):
    fake(2)
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    a = gpu.assign(1)
    assert a.source == "slurm" and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert not (tmp_path / "locks").exists()  # nothing locked


def test_no_gpu_runs_on_cpu(fake, monkeypatch):
    fake(0)
    a = gpu.assign(1)
    assert a.source == "cpu" and "CUDA_VISIBLE_DEVICES" not in os.environ
    fake(2)
    b = gpu.assign(0)  # --resources gpu=0 clamps a GPU rule to 0: hide the GPUs
    assert b.source == "cpu" and os.environ["CUDA_VISIBLE_DEVICES"] == ""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert gpu.assign(None).source == "unchanged" and "CUDA_VISIBLE_DEVICES" not in os.environ


def test_real_device_count_without_override(monkeypatch):
    monkeypatch.delenv("VLMBIAS_GPU_COUNT", raising=False)
    import torch

    assert gpu.device_count() == torch.cuda.device_count()
    assert not torch.cuda.is_initialized()


def test_setup_hook_assigns_and_logs(fake, tmp_path):
    fake(2)
    log = tmp_path / "job.log"
    job = types.SimpleNamespace(log=[str(log)], rule="train_dsc", resources={"gpu": 1})
    stdout, stderr = sys.stdout, sys.stderr
    try:
        smk.setup(job)
    finally:
        sys.stdout.flush()
        sys.stdout, sys.stderr = stdout, stderr
    assert os.environ["CUDA_VISIBLE_DEVICES"] in {"0", "1"}
    text = log.read_text()
    assert "GPU assignment: slots" in text and "SLURM job none" in text
