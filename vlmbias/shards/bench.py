"""How fast the sampler's header pass runs, per core and split over chunks.

``python -m vlmbias.bench sample [--shards 100] [--per-shard 1000] [--image-bytes 4096]
[--chunks 1 2 4] [--dir DIR]``

Writes ``--shards`` synthetic shards of ``--per-shard`` samples (``KEY.jpg`` of
``--image-bytes`` bytes, ``KEY.txt``, ``KEY.json`` with ``split`` and ``label``) with the
project's shard writer into a temporary folder (or ``--dir``, kept), reads them once to warm the
page cache, walks one shard to start the compiled header walk (its start-up, printed, is paid
once per process), then prints samples per CPU second (per core) of:

- ``sampler pass 1``: the sampler's header pass as the ``sample`` job runs it
  (``_collect_candidates``: header walk, json ``split`` filter, priorities, the bounded heap);
- ``header walk``: :func:`vlmbias.shards.reader.scan_shard` alone (json read and parsed);
- ``tarfile``: Python's ``tarfile`` header walk (what the walk was built on before);
- ``tar tf``: GNU tar listing the same shards (its CPU time, from the child's rusage);

with their ratios, then the wall time and speed-up of the chunked pass (``scan_chunk`` over 1,
2, 4 chunks, one process per chunk, all in parallel) and the merge. CPU time, not wall time,
makes the per-core figures stand on a shared machine; the chunk scaling is wall time and
needs as many free cores as chunks.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import tarfile
import tempfile
import time

from vlmbias.shards.reader import BadInputCounter, scan_shard
from vlmbias.shards.sampler import _collect_candidates, _merge_scans, _plan, scan_chunk
from vlmbias.shards.writer import ShardWriter

N_TRAIN, N_VAL, BAD = 1000, 100, 0.01  # the sample the passes draw (K = 1,130 candidates)


def write_shards(folder: str, n_shards: int, per_shard: int, image_bytes: int, seed: int = 0) -> list[str]:
    """``n_shards`` img2dataset-like shards (jpg + txt + json); every 10th sample is ``val``."""
    os.makedirs(folder, exist_ok=True)
    image = bytes(((i * 2654435761 + seed) >> 13) & 0xFF for i in range(image_bytes))
    paths = []
    for s in range(n_shards):
        path = os.path.join(folder, f"{s:05d}.tar")
        with ShardWriter(path) as writer:
            for j in range(per_shard):
                i = s * per_shard + j
                meta = {"key": f"{s:05d}{j:04d}", "split": "val" if i % 10 == 0 else "train", "label": i % 7,
                        "url": f"https://example.org/{i}.jpg", "width": 500, "height": 375}
                writer.write(f"{s:05d}{j:04d}", {"jpg": image, "txt": f"a photo of thing {i}".encode(),
                                                "json": json.dumps(meta).encode()})
        paths.append(path)
    return paths


def _cpu(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def pass1(paths: list[str]) -> int:
    quotas, plan, pool_of = _plan("bench", N_TRAIN, N_VAL, "train", None)
    k = {"": N_TRAIN + N_VAL + int(BAD * (N_TRAIN + N_VAL)) + 9}
    counter = BadInputCounter()
    _collect_candidates(paths, "bench", 0, pool_of, k, counter, after=None, progress=False)
    return counter.seen


def header_walk(paths: list[str]) -> int:
    counter = BadInputCounter()
    return sum(1 for p in paths for _ in scan_shard(p, counter, read_json=True))


def tarfile_walk(paths: list[str]) -> int:
    n = 0
    for p in paths:
        with tarfile.open(p, "r:") as tf:
            while (info := tf.next()) is not None:
                tf.members = []
                n += info.name.endswith(".jpg")
    return n


def tar_tf_cpu(paths: list[str], empty: str) -> float:
    """CPU seconds (user + system) GNU ``tar tf`` takes to list ``paths``, one call a shard, less
    the start-up of as many calls on the empty tar ``empty`` (tar's listing alone)."""
    def cpu(files):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        for p in files:
            subprocess.run(["tar", "tf", p], check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    return cpu(paths) - cpu([empty] * len(paths))


def _scan_job(args) -> None:
    paths, chunk, n_chunks, out = args
    scan_chunk("bench", paths, chunk, n_chunks, out, seed=0, n_train=N_TRAIN, n_val=N_VAL,
               max_bad_fraction=BAD, progress=False)


def chunked(paths: list[str], n_chunks: int, folder: str) -> tuple[float, float]:
    """Wall time of ``n_chunks`` scan_chunk processes in parallel, and of their merge."""
    outs = [os.path.join(folder, f"scan-{n_chunks}-{c}.parquet") for c in range(n_chunks)]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(n_chunks) as pool:
        pool.map(_scan_job, [(paths, c, n_chunks, o) for c, o in enumerate(outs)])
    scan = time.perf_counter() - start
    start = time.perf_counter()
    k = {"": N_TRAIN + N_VAL + int(BAD * (N_TRAIN + N_VAL)) + 9}
    _merge_scans(outs, paths, k, BadInputCounter())
    return scan, time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m vlmbias.bench sample")
    ap.add_argument("--shards", type=int, default=100)
    ap.add_argument("--per-shard", type=int, default=1000)
    ap.add_argument("--image-bytes", type=int, default=4096)
    ap.add_argument("--chunks", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--dir", help="write the shards here and keep them (default: a temporary folder)")
    a = ap.parse_args(argv)
    if a.shards < 1 or a.per_shard < 1 or a.image_bytes < 1 or min(a.chunks) < 1:
        ap.error("--shards, --per-shard, --image-bytes and --chunks must be >= 1")
    if shutil.which("tar") is None:
        ap.error("GNU tar is not on PATH (the reference of the benchmark)")
    folder = a.dir or tempfile.mkdtemp(prefix="vlmbias-sample-bench-")
    try:
        t = time.perf_counter()
        paths = write_shards(os.path.join(folder, "raw"), a.shards, a.per_shard, a.image_bytes)
        n = a.shards * a.per_shard
        size = sum(os.path.getsize(p) for p in paths)
        print(f"{a.shards} shards x {a.per_shard} samples (jpg {a.image_bytes} B + txt + json), "
              f"{size / 2**20:.0f} MiB, written in {time.perf_counter() - t:.1f} s")
        empty = os.path.join(folder, "empty.tar")
        ShardWriter(empty).close()
        for p in paths:  # warm the page cache
            with open(p, "rb") as f:
                while f.read(1 << 22):
                    pass
        start = time.perf_counter()
        header_walk(paths[:1])  # the compiled walk's start-up, once a process: not a per-sample cost
        print(f"start-up of the compiled header walk (numba import, cached machine code): "
              f"{time.perf_counter() - start:.2f} s, once per process")
        rates = {
            "sampler pass 1": n / _cpu(lambda: pass1(paths)),
            "header walk": n / _cpu(lambda: header_walk(paths)),
            "tarfile": n / _cpu(lambda: tarfile_walk(paths)),
            "tar tf": n / tar_tf_cpu(paths, empty),
        }
        print("samples per CPU second (one core), page cache warm:")
        for what, rate in rates.items():
            print(f"  {what:16s} {rate:10,.0f}   {rate / rates['tarfile']:5.2f}x tarfile   "
                  f"{rate / rates['tar tf']:5.2f}x tar tf")
        print(f"chunked header pass (scan_chunk, one process a chunk, in parallel; "
              f"{os.cpu_count()} CPUs here):")
        walls = {}
        for c in a.chunks:
            scan, merge = chunked(paths, c, folder)
            walls[c] = scan
            print(f"  {c:2d} chunk(s): scan {scan:6.2f} s wall ({n / scan:9,.0f} samples/s), "
                  f"speed-up {walls[a.chunks[0]] / scan:4.2f}x over {a.chunks[0]}; merge {merge:.2f} s")
        return {"rates": rates, "chunk_wall_s": walls, "samples": n}
    finally:
        if not a.dir:
            shutil.rmtree(folder, ignore_errors=True)
