"""The workstation GPU slots (``vlmbias.core.gpu``) checked on the machine's devices.

:func:`check_slots` starts one dummy job per device of the pool at once, each a process that
takes a slot with ``gpu.assign(1)`` -- the call every GPU job of the workflow makes -- and then
reports what it got: ``CUDA_VISIBLE_DEVICES``, how many devices torch sees, the device's name and
UUID (the physical identity: two jobs on one GPU would report one UUID) after a small matmul on
it. While they hold their slots, one more job is started with a 1-s wait: it must be refused
("no free GPU slot"). The jobs use a private lock directory, so a running workflow's slots are
neither taken nor waited for, and leave SLURM out (``SLURM_JOB_ID`` dropped), since inside a SLURM
job the scheduler's binding is used instead of slots. ``fake_devices`` (CPU machines, tests)
sets ``VLMBIAS_GPU_COUNT``: the same locking, without CUDA.

    python -m vlmbias.core.gpu_check job      # one dummy job: take a slot, print JSON, hold until stdin closes
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from vlmbias.core import gpu


def _job() -> None:
    a = gpu.assign(1)
    import torch

    info = {"pid": os.getpid(), "source": a.source, "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "visible": 0, "name": None, "uuid": None}
    if torch.cuda.is_available():
        info["visible"] = torch.cuda.device_count()
        props = torch.cuda.get_device_properties(0)
        x = torch.randn(1024, 1024, device="cuda")
        float((x @ x).sum())  # the job really computes there
        info.update(name=props.name, uuid=str(props.uuid))
    print(json.dumps(info), flush=True)
    sys.stdin.read()  # hold the slot until the parent closes our stdin


def _env(lock_dir: str, fake_devices: int | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    env["VLMBIAS_GPU_LOCK_DIR"] = lock_dir
    if fake_devices is not None:
        env["VLMBIAS_GPU_COUNT"] = str(fake_devices)
    return env


def _spawn(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vlmbias.core.gpu_check", "job"], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def check_slots(fake_devices: int | None = None, timeout: float = 120) -> dict:
    """Run one concurrent dummy job per device of the pool, and one too many (see the module doc).
    Returns the pool, each job's report, whether their devices are distinct, whether the extra job
    was refused. Raises when the machine has no device (and none is faked)."""
    with tempfile.TemporaryDirectory(prefix="vlmbias-gpu-check-") as lock_dir:
        env = _env(lock_dir, fake_devices)
        saved = os.environ.get("VLMBIAS_GPU_COUNT")
        try:
            if fake_devices is not None:
                os.environ["VLMBIAS_GPU_COUNT"] = str(fake_devices)
            pool = gpu._pool()  # the devices the jobs draw from, as they will see them
        finally:
            if saved is None:
                os.environ.pop("VLMBIAS_GPU_COUNT", None)
            else:
                os.environ["VLMBIAS_GPU_COUNT"] = saved
        if not pool:
            raise RuntimeError("GPU slot check: no GPU in the pool (NVML and /dev/nvidia* find none, or "
                               "CUDA_VISIBLE_DEVICES is empty)")
        jobs = [_spawn(env) for _ in pool]
        try:
            reports = []
            for p in jobs:
                line = p.stdout.readline()
                if not line:
                    p.wait(timeout)
                    raise RuntimeError(f"GPU slot check: a dummy job failed:\n{p.stderr.read()[-3000:]}")
                reports.append(json.loads(line))
            extra = subprocess.run([sys.executable, "-m", "vlmbias.core.gpu_check", "job"], input="",
                                   env={**env, "VLMBIAS_GPU_WAIT_S": "1"}, capture_output=True, text=True,
                                   timeout=timeout)
        finally:
            for p in jobs:
                if p.stdin and not p.stdin.closed:
                    p.stdin.close()
            for p in jobs:
                try:
                    p.wait(timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()
    ids = [r["uuid"] or r["cuda_visible_devices"] for r in reports]
    return {"pool": pool, "fake": fake_devices is not None, "jobs": reports,
            "distinct": len(set(ids)) == len(ids) and all(r["cuda_visible_devices"] for r in reports),
            "one_device_each": all(r["visible"] == 1 for r in reports) if fake_devices is None else None,
            "extra_refused": extra.returncode != 0 and "no free GPU slot" in extra.stderr}


if __name__ == "__main__":
    if sys.argv[1:] != ["job"]:
        raise SystemExit("usage: python -m vlmbias.core.gpu_check job")
    _job()
