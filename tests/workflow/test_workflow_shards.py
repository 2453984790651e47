"""The workflow on user shards (not the toy world's): sampled and classified; a corrupted shard
past max_bad_fraction fails the sampling job with a message naming it."""

import io
import pathlib
import subprocess
import sys

import pytest
import yaml
from PIL import Image

from vlmbias.shards.writer import ShardWriter

ROOT = pathlib.Path(__file__).resolve().parents[2]


def write_user_dataset(folder: pathlib.Path, colour, n=80, n_shards=2):
    """img2dataset-like shards: jpg + txt + json, one flat colour per dataset plus noise."""
    import numpy as np

    rng = np.random.default_rng(sum(colour))
    folder.mkdir(parents=True)
    per = n // n_shards
    for s in range(n_shards):
        with ShardWriter(str(folder / f"{s:05d}.tar")) as w:
            for i in range(per):
                arr = np.clip(np.array(colour) + rng.normal(0, 25, (48, 56, 3)), 0, 255)
                buf = io.BytesIO()
                Image.fromarray(arr.astype("uint8")).save(buf, format="JPEG", quality=90)
                w.write(f"{s:05d}{i:04d}", {"jpg": buf.getvalue(), "txt": b"a photo",
                                            "json": b'{"source": "user"}'})
    return str(folder / ("{00000..%05d}.tar" % (n_shards - 1)))


def run(workdir, overlay, *targets):
    """Snakemake on the default config with ``overlay`` merged in and only the t01/t02 tables
    kept (the other tables need larger samples than these small user datasets hold)."""
    with open(ROOT / "config/config.yaml") as f:
        cfg = yaml.safe_load(f)
    for key, value in overlay.items():
        if isinstance(value, dict):
            for k, v in value.items():
                merge = isinstance(v, dict) and key != "datasets"  # a dataset entry is replaced whole
                cfg[key][k] = {**cfg[key].get(k, {}), **v} if merge else v
        else:
            cfg[key] = value
    cfg["dataset_classification"] = {k: v for k, v in cfg["dataset_classification"].items()
                                     if k in ("t01_combinations", "t02_architectures")}
    cfg.pop("ssl", None)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir),
           "--cores", "2", *targets, "--configfile", str(path)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def user_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp("user")
    return root, {name: write_user_dataset(root / name, colour) for name, colour in
                  [("yfcc", (90, 60, 40)), ("cc", (60, 160, 220)), ("datacomp", (200, 200, 200))]}


def test_user_shards_sampled_and_classified(user_shards, tmp_path):
    _, patterns = user_shards
    overlay = {"datasets": {k: {"shards": v} for k, v in patterns.items()},
               "sampling": {"n_train": 50, "n_val": 20},
               "train": {"samples_seen": 1600, "batch_size": 50, "warmup_samples": 100}}
    target = "results/runs/dsc/yfcc+cc+datacomp__convnext_t__n50/metrics.json"
    p = run(tmp_path, overlay, target)
    assert p.returncode == 0, p.stderr[-3000:]
    assert not (tmp_path / "results/toyworld/yfcc").exists()  # the user's shards were used
    import json

    m = json.loads((tmp_path / target).read_text())
    assert m["val_acc"] > 90  # three flat colours: trivially separable
    idx = (tmp_path / "results/samples/cc/index.parquet")
    import pandas as pd

    assert set(pd.read_parquet(idx)["source_shard"]) <= {
        str(pathlib.Path(patterns["cc"]).parent / f"{i:05d}.tar") for i in range(2)}


def test_corrupt_shard_is_named(user_shards, tmp_path):
    root, patterns = user_shards
    bad = root / "broken"
    bad.mkdir()
    good = pathlib.Path(patterns["yfcc"]).parent
    (bad / "00000.tar").write_bytes((good / "00000.tar").read_bytes())
    (bad / "00001.tar").write_bytes(b"this is not a tar file" * 100)
    overlay = {"datasets": {"yfcc": {"shards": str(bad / "*.tar")}},
               "sampling": {"n_train": 20, "n_val": 5}}
    p = run(tmp_path, overlay, "results/samples/yfcc/index.parquet")
    assert p.returncode != 0
    log = (tmp_path / "logs/sample/yfcc.log").read_text()
    assert "BadInputError" in log and "max_bad_fraction" in log
    assert str(bad / "00001.tar") in log and "unreadable_shard" in log
    assert not (tmp_path / "results/samples/yfcc/index.parquet").exists()


def test_shard_changes_rerun_the_sampling(user_shards, tmp_path):
    """A user's dataset is sampled from its shard manifest (not its shards as inputs): a rerun
    does nothing while the shards are unchanged, and lists and samples again when one is touched
    or added (the manifest job's digest parameter)."""
    root, patterns = user_shards
    mine = root / "rerun"
    mine.mkdir()
    good = pathlib.Path(patterns["cc"]).parent
    for i in range(2):
        (mine / f"{i:05d}.tar").write_bytes((good / f"{i:05d}.tar").read_bytes())
    overlay = {"datasets": {"cc": {"shards": str(mine / "*.tar")}}, "sampling": {"n_train": 20, "n_val": 5}}
    target = "results/samples/cc/index.parquet"
    p = run(tmp_path, overlay, target)
    assert p.returncode == 0, p.stderr[-3000:]
    listed = (tmp_path / "results/manifests/cc.tsv").read_text().splitlines()
    assert listed[0] == "path\tsize\tmtime_ns" and [r.split("\t")[0] for r in listed[1:]] == \
        [str(mine / "00000.tar"), str(mine / "00001.tar")]

    def planned():
        out = run(tmp_path, overlay, "-n", target)
        assert out.returncode == 0, out.stderr[-3000:]
        return {r for r in ("shard_manifest", "sample") if f"rule {r}:" in out.stdout}

    assert planned() == set()
    import os

    st = os.stat(mine / "00001.tar")
    os.utime(mine / "00001.tar", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched
    assert planned() == {"shard_manifest", "sample"}
    assert run(tmp_path, overlay, target).returncode == 0 and planned() == set()
    (mine / "00002.tar").write_bytes((good / "00000.tar").read_bytes())  # a shard added
    assert planned() == {"shard_manifest", "sample"}


def test_chunked_header_pass_gives_the_same_sample(user_shards, tmp_path):
    """datasets.<name>.scan_chunks: 3 sample_scan jobs over the manifest's slices, merged by rule
    sample into the files one job writes, byte for byte; the chunks' files are temporary."""
    root, patterns = user_shards
    target = "results/samples/cc/index.parquet"
    outs = {}
    for chunks in (1, 3):
        overlay = {"datasets": {"cc": {"shards": patterns["cc"], "scan_chunks": chunks}},
                   "sampling": {"n_train": 20, "n_val": 5}}
        work = tmp_path / f"chunks{chunks}"
        work.mkdir()
        p = run(work, overlay, target)
        assert p.returncode == 0, p.stderr[-3000:]
        assert ("rule sample_scan" in p.stderr) == (chunks > 1)
        sample = work / "results/samples/cc"
        assert not (sample / "scan").exists() or not any((sample / "scan").iterdir())
        outs[chunks] = {f.relative_to(sample).as_posix(): f.read_bytes() for f in sorted(sample.rglob("*"))
                        if f.is_file()}
    assert "bad_input.json" in outs[1] and outs[1] == outs[3]
