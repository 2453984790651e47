"""GPU slots for jobs on a multi-GPU workstation.

Snakemake's ``--resources gpu=N`` only counts GPU jobs; it never tells a job *which* GPU to use
(``CUDA_VISIBLE_DEVICES`` is left alone), so two concurrent GPU jobs would both land on GPU 0.
:func:`assign` gives a job the device(s) of its own: it takes an exclusive ``flock`` on one lock
file per device (``gpu<i>.lock`` in a machine-wide directory) and sets ``CUDA_VISIBLE_DEVICES``
to the devices it holds. The locks live as long as the job's process and are released by the
kernel when it ends, however it ends (a SIGKILLed job frees its GPU). It must run before CUDA is
initialised (importing torch is fine; touching ``torch.cuda`` beyond ``device_count`` is not):
``vlmbias.smk.setup``, which every script calls first, does it.

- Inside a SLURM job (``SLURM_JOB_ID``), the scheduler has already bound the job's GPUs and set
  ``CUDA_VISIBLE_DEVICES``: it is respected as is, nothing is locked.
- Elsewhere, a ``CUDA_VISIBLE_DEVICES`` set by the user is the pool slots are drawn from (e.g.
  ``CUDA_VISIBLE_DEVICES=2,3 snakemake ...`` gives jobs GPU 2 or 3).
- A job that asks for no GPU (``gpu=0``, e.g. ``--resources gpu=0`` clamps every request to 0)
  gets ``CUDA_VISIBLE_DEVICES=""``: it runs on CPU and leaves the GPUs to the others.
- No GPU on the machine: nothing to lock, the job runs on CPU (the training code falls back).

Environment: ``VLMBIAS_GPU_LOCK_DIR`` (default ``$TMPDIR/vlmbias-gpu-locks``, one per machine, so
several Snakemake instances share the devices); ``VLMBIAS_GPU_COUNT`` overrides the detected
device count (tests, or to keep GPUs out of the pool); ``VLMBIAS_GPU_WAIT_S`` how long to wait for
a free slot (default 24 h; the job fails naming the lock directory past it).
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field

_HELD: list[int] = []  # open lock fds: kept for the life of the process


@dataclass
class Assignment:
    devices: list[str] = field(default_factory=list)  # what CUDA_VISIBLE_DEVICES lists now
    source: str = "none"  # slurm | slots | cpu | unchanged
    note: str = ""

    def describe(self) -> str:
        cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
        return f"GPU assignment: {self.source} (CUDA_VISIBLE_DEVICES={cvd!r}) {self.note}".rstrip()


def lock_dir() -> str:
    return os.environ.get("VLMBIAS_GPU_LOCK_DIR") or os.path.join(tempfile.gettempdir(),
                                                                  "vlmbias-gpu-locks")


def device_count() -> int:
    """GPUs visible to this process, without initialising CUDA (NVML, else /dev/nvidia<N>):
    ``torch.cuda.device_count`` could fall back to cuInit, after which CUDA_VISIBLE_DEVICES
    no longer applies."""
    if os.environ.get("VLMBIAS_GPU_COUNT") not in (None, ""):
        return int(os.environ["VLMBIAS_GPU_COUNT"])
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return 0
    if torch.version.cuda is None:  # a CPU (or ROCm) build: nothing to assign
        return 0
    if torch.cuda.is_initialized():  # too late to choose: whatever torch already sees
        return 0
    try:
        n = int(torch.cuda._device_count_nvml())  # -1 when NVML is unusable
    except Exception:  # noqa: BLE001
        n = -1
    if n >= 0:
        return n
    return len(glob.glob("/dev/nvidia[0-9]*"))


def _pool() -> list[str]:
    """Device ids jobs draw slots from: the GPUs of the machine, or the ones a user-set
    ``CUDA_VISIBLE_DEVICES`` lists (as many as are really there)."""
    n = device_count()
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is None:
        return [str(i) for i in range(n)]
    return [d.strip() for d in cvd.split(",") if d.strip()][:n]


def _try_lock(path: str) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def acquire(n: int, pool: list[str], directory: str | None = None,
            wait_s: float | None = None, poll_s: float = 0.5) -> list[str]:
    """Exclusive locks on ``n`` devices of ``pool`` (waiting for free ones); returns their ids."""
    directory = directory or lock_dir()
    os.makedirs(directory, exist_ok=True)
    try:
        os.chmod(directory, 0o1777)  # shared by every user of the machine
    except PermissionError:
        pass
    if n > len(pool):
        raise RuntimeError(f"job asks for {n} GPUs but this machine has {len(pool)} ({pool})")
    wait_s = float(os.environ.get("VLMBIAS_GPU_WAIT_S", 24 * 3600)) if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    while True:
        got: list[tuple[str, int]] = []
        for dev in pool:
            fd = _try_lock(os.path.join(directory, f"gpu{dev}.lock"))
            if fd is not None:
                got.append((dev, fd))
                if len(got) == n:
                    _HELD.extend(fd for _, fd in got)
                    return [d for d, _ in got]
        for _, fd in got:  # not enough free: give back what we took, retry
            os.close(fd)
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU slot among {pool} after {wait_s:.0f} s "
                               f"(locks in {directory})")
        time.sleep(poll_s)


def release() -> None:
    while _HELD:
        os.close(_HELD.pop())


def assign(gpus: int | None) -> Assignment:
    """Give this process ``gpus`` device(s) of its own (see the module doc). ``gpus`` is the
    job's ``gpu`` resource; None for rules that declare none (left unchanged)."""
    if gpus is None:
        return Assignment(source="unchanged", note="(rule declares no gpu resource)")
    gpus = int(gpus)
    if os.environ.get("SLURM_JOB_ID"):
        cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
        if gpus > 0 and not cvd:
            return Assignment(source="slurm", note=f"(SLURM job {os.environ['SLURM_JOB_ID']} asked "
                              f"for {gpus} GPU(s) but none is bound: running on CPU)")
        if gpus == 0:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return Assignment(devices=(cvd or "").split(",") if cvd else [], source="slurm",
                          note=f"(SLURM job {os.environ['SLURM_JOB_ID']})")
    if gpus <= 0:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return Assignment(source="cpu", note="(the job asks for no GPU)")
    pool = _pool()
    if not pool:
        return Assignment(source="cpu", note="(no GPU on this machine)")
    devices = acquire(min(gpus, len(pool)), pool)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    return Assignment(devices=devices, source="slots", note=f"(locks in {lock_dir()})")


def gpu_resource(snakemake) -> int | None:
    """The job's ``gpu`` resource, or None when its rule declares none."""
    res = getattr(snakemake, "resources", None)
    if res is None:
        return None
    try:
        value = res.get("gpu") if hasattr(res, "get") else getattr(res, "gpu", None)
    except Exception:  # noqa: BLE001
        value = None
    return None if value is None else int(value)


if __name__ == "__main__":  # python -m vlmbias.gpu N: hold N slots, print them (for tests)
    a = assign(int(sys.argv[1]))
    print(os.environ.get("CUDA_VISIBLE_DEVICES", ""), flush=True)
    time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0)
