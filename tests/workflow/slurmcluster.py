"""A private single-node SLURM cluster for tests (Debian's slurmctld/slurmd/munge), with two
fake GPUs: character devices made by mknod, declared as ``gpu:fake:2`` GRES, so SLURM binds them
and sets ``CUDA_VISIBLE_DEVICES`` in jobs that ask for a GPU. No accounting database: the
Snakemake executor must use ``--slurm-status-command squeue``.

Needs root (to install packages, write /etc/slurm/slurm.conf — the jobstep plugin strips
SLURM_CONF, so the config must sit at the compiled-in default path — and run the daemons).
Every call runs under a hard timeout; the daemons run in the foreground as children of the test
process and are stopped by their own pids.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field

MARKER = "# written by vlmbias tests (tests/slurmcluster.py)"
CONF = "/etc/slurm/slurm.conf"
GRES_CONF = "/etc/slurm/gres.conf"
STATE = "/var/tmp/vlmbias-slurm"
PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun", "munged", "munge"]


class ClusterUnavailable(RuntimeError):
    pass


def real_path() -> str:
    """PATH without the tests' scontrol stand-in (tests/workflow/noslurm), plus the sbin directories."""
    parts = (os.environ.get("PATH", "") + ":/usr/sbin:/sbin").split(os.pathsep)
    return os.pathsep.join(p for p in parts if p and os.path.basename(p.rstrip("/")) != "noslurm")


def run(cmd, timeout=30, check=True, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", {**os.environ, "PATH": real_path()})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode:
        raise ClusterUnavailable(f"{' '.join(cmd)} failed ({p.returncode}): {p.stdout[-2000:]}"
                                 f"{p.stderr[-2000:]}")
    return p


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not shutil.which(b, path=real_path())]


def install() -> None:
    """apt-get the Debian packages when a binary is missing (minutes on a fresh machine)."""
    if not missing_binaries():
        return
    if not shutil.which("apt-get"):
        raise ClusterUnavailable(f"SLURM binaries missing ({missing_binaries()}) and no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-q"], timeout=300, env=env)
    run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES], timeout=900,
        env=env)
    if missing_binaries():
        raise ClusterUnavailable(f"still missing after apt-get: {missing_binaries()}")


def _sbin(name: str) -> str:
    return shutil.which(name, path=real_path())


def _mem_mb() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 2000


@dataclass
class Cluster:
    host: str
    cpus: int
    mem_mb: int
    procs: dict = field(default_factory=dict)  # name -> Popen (daemons we started)

    @property
    def partition(self) -> str:
        return "debug"

    def env(self) -> dict:
        return {**{k: v for k, v in os.environ.items() if k != "SLURM_CONF"}, "PATH": real_path()}

    def show_job(self, job_id: str) -> str:
        return run(["scontrol", "show", "job", str(job_id)], timeout=20, check=False).stdout

    def cancel_all(self) -> None:
        run(["scancel", "--user", "root"], timeout=20, check=False)

    def stop(self) -> None:
        """Stop the daemons this object started, by their pids (slurmd first)."""
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=15)


def _stop_leftovers() -> None:
    """Daemons of an earlier run of these tests (killed before its teardown): their pid files
    are in STATE; stop exactly those pids."""
    for name in ("slurmd", "slurmctld"):
        pidfile = os.path.join(STATE, f"{name}.pid")
        try:
            pid = int(open(pidfile).read().strip())
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if name in cmdline:
            os.kill(pid, 15)
            for _ in range(100):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.1)


def _munge_works() -> bool:
    try:
        enc = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        if enc.returncode:
            return False
        dec = subprocess.run(["unmunge"], input=enc.stdout, capture_output=True, timeout=10)
        return dec.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def write_config(host: str, cpus: int, mem_mb: int) -> None:
    if os.path.exists(CONF) and MARKER not in open(CONF).read():
        raise ClusterUnavailable(f"{CONF} exists and was not written by these tests: this machine "
                                 "has a SLURM configuration of its own; not touching it")
    os.makedirs("/etc/slurm", exist_ok=True)
    shutil.rmtree(STATE, ignore_errors=True)
    for d in ("ctld", "d"):
        os.makedirs(os.path.join(STATE, d))
    for i in range(2):  # fake GPUs: character devices (regular files are rejected by slurmd)
        os.mknod(os.path.join(STATE, f"fakegpu{i}"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    conf = f"""{MARKER}
ClusterName=vlmbias
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
SchedulerType=sched/backfill
StateSaveLocation={STATE}/ctld
SlurmdSpoolDir={STATE}/d
SlurmctldPidFile={STATE}/slurmctld.pid
SlurmdPidFile={STATE}/slurmd.pid
SlurmctldLogFile={STATE}/slurmctld.log
SlurmdLogFile={STATE}/slurmd.log
NodeName={host} CPUs={cpus} RealMemory={mem_mb} Gres=gpu:fake:2 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    with open(CONF, "w") as f:
        f.write(conf)
    with open(GRES_CONF, "w") as f:
        f.write(f"{MARKER}\nNodeName={host} Name=gpu Type=fake File={STATE}/fakegpu[0-1]\n")


def _daemon(name: str, args: list[str], cluster: Cluster) -> None:
    log = open(os.path.join(STATE, f"{name}.out"), "w")
    cluster.procs[name] = subprocess.Popen([_sbin(name), *args], stdout=log, stderr=log,
                                           start_new_session=True, env=cluster.env())


def start(timeout: float = 90) -> Cluster:
    """Install if needed, write the config, start munged (unless one works already), slurmctld
    and slurmd, and wait until the node is idle."""
    if os.geteuid() != 0:
        raise PermissionError("root needed")
    install()
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    mem = max(1000, min(int(_mem_mb() * 0.8), 16000))
    _stop_leftovers()
    write_config(host, cpus, mem)
    cluster = Cluster(host=host, cpus=cpus, mem_mb=mem)
    try:
        if not _munge_works():
            for d in ("/run/munge", "/var/lib/munge", "/var/log/munge"):
                os.makedirs(d, exist_ok=True)
            if not os.path.exists("/etc/munge/munge.key"):
                os.makedirs("/etc/munge", exist_ok=True)
                with open("/etc/munge/munge.key", "wb") as f:
                    f.write(os.urandom(1024))
                os.chmod("/etc/munge/munge.key", 0o400)
            _daemon("munged", ["--foreground", "--force"], cluster)
            deadline = time.time() + 20
            while not _munge_works():
                if time.time() > deadline or cluster.procs["munged"].poll() is not None:
                    raise ClusterUnavailable("munged did not start: " + _tail("munged.out"))
                time.sleep(0.2)
        _daemon("slurmctld", ["-D", "-i", "-f", CONF], cluster)
        _daemon("slurmd", ["-D", "-f", CONF], cluster)
        deadline = time.time() + timeout
        state = ""
        while time.time() < deadline:
            for name in ("slurmctld", "slurmd"):
                if cluster.procs[name].poll() is not None:
                    raise ClusterUnavailable(f"{name} exited: " + _tail(f"{name}.log") +
                                             _tail(f"{name}.out"))
            p = run(["sinfo", "-h", "-o", "%T"], timeout=10, check=False, env=cluster.env())
            state = p.stdout.strip()
            if state == "idle":
                return cluster
            if state in ("down", "drained", "inval") or state.startswith("down"):
                run(["scontrol", "update", f"NodeName={host}", "State=RESUME"], timeout=10,
                    check=False)
            time.sleep(0.5)
        raise ClusterUnavailable(f"node not idle after {timeout} s (state {state!r}): "
                                 + _tail("slurmctld.log") + _tail("slurmd.log"))
    except BaseException:
        cluster.stop()
        raise


def _tail(name: str, n: int = 1500) -> str:
    try:
        return f"\n--- {name}\n" + open(os.path.join(STATE, name)).read()[-n:]
    except OSError:
        return ""
