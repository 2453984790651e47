"""`python -m vlmbias.bench run`: progress while it runs, the partial summary when it fails or is
stopped (Snakemake replaced by a fake that writes benchmark files as jobs would)."""

import io
import sys
import textwrap
import time

import pytest

from vlmbias import bench

FAKE = textwrap.dedent("""
    import os, pathlib, subprocess, sys, time
    workdir = sys.argv[sys.argv.index("-d") + 1]
    mode = os.environ["FAKE_MODE"]
    def job(family, rule, name, s):
        d = pathlib.Path(workdir, "benchmarks", family, rule)
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{name}.tsv").write_text(f"s\\th:m:s\\tmax_rss\\n{s}\\t0:00:01\\t100.0\\n")
    print("Building DAG of jobs...", flush=True)
    job("dsc", "train_dsc", "a", 30.0)
    print("1 of 3 steps (33%) done", flush=True)
    job("data", "sample", "yfcc", 10.0)
    print("2 of 3 steps (67%) done", flush=True)
    if mode == "fail":
        print("Error in rule probe:", file=sys.stderr, flush=True)
        sys.exit(1)
    if mode == "hang":  # a job that runs on, with a child of its own
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        pathlib.Path(workdir, "child.pid").write_text(str(child.pid))
        time.sleep(120)
    job("report", "table_html", "t01", 0.5)
    print("3 of 3 steps (100%) done", flush=True)
""")


@pytest.fixture
def fake_snakemake(tmp_path, monkeypatch):
    script = tmp_path / "fake_snakemake.py"
    script.write_text(FAKE)
    monkeypatch.setattr(bench, "_snakemake_cmd",
                        lambda args, workdir: [sys.executable, str(script), "-d", workdir, *args])

    def mode(m):
        monkeypatch.setenv("FAKE_MODE", m)
    return mode


def test_run_echoes_progress_and_logs_everything(tmp_path, fake_snakemake):
    fake_snakemake("ok")
    out = io.StringIO()
    r = bench.run_dag("2", str(tmp_path / "wd"), [], timeout=60, progress=out)
    assert r["returncode"] == 0
    echoed = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in echoed] == [f"{i} of 3 steps ({p}%) done" for i, p in
                                                           ((1, 33), (2, 67), (3, 100))]
    log = open(r["log"]).read()
    assert "Building DAG of jobs..." in log and "3 of 3 steps (100%) done" in log  # all of it, not only progress
    fam = bench.by_family(str(tmp_path / "wd" / "benchmarks"))
    assert fam["family"].tolist() == ["dsc", "data", "report"]
    assert fam["share_%"].sum() == pytest.approx(100)
    assert fam.set_index("family").loc["dsc", "share_%"] == pytest.approx(100 * 30 / 40.5)


def test_failed_run_prints_the_partial_summary_and_exits_nonzero(tmp_path, fake_snakemake, capsys):
    fake_snakemake("fail")
    with pytest.raises(SystemExit) as e:
        bench.main(["run", "--workdir", str(tmp_path / "wd")])
    msg = str(e.value)
    assert "failed (exit 1)" in msg and "Error in rule probe:" in msg and "bench-snakemake.log" in msg
    printed = capsys.readouterr().out
    assert "PARTIAL" in printed and "train_dsc" in printed and "sample" in printed
    assert "table_html" not in printed  # the job after the failure never ran


def test_timeout_stops_snakemake_and_its_jobs(tmp_path, fake_snakemake, capsys):
    fake_snakemake("hang")
    wd = tmp_path / "wd"
    t0 = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        bench.main(["run", "--workdir", str(wd), "--timeout", "3"])
    assert time.perf_counter() - t0 < 60
    assert "stopped" in str(e.value) and "timeout" in str(e.value)
    assert "PARTIAL" in capsys.readouterr().out
    child = int((wd / "child.pid").read_text())
    for _ in range(50):  # the job's own child went with it (the whole process group was stopped)
        if not _alive(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the fake job's child {child} still runs")


def _alive(pid):
    """Running (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_run_refuses_a_used_workdir(tmp_path, fake_snakemake):
    (tmp_path / "wd" / "results").mkdir(parents=True)
    with pytest.raises(SystemExit, match="already has results/"):
        bench.run_dag("2", str(tmp_path / "wd"), [], timeout=60)
