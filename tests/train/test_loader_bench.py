"""python -m vlmbias.bench loader: decode + training transform per core, and cores per GPU."""

import math

import numpy as np
import pytest

from vlmbias import bench
from vlmbias.shards.reader import decode_image
from vlmbias.shards.sampler import _encode
from vlmbias.train import loader_bench as L


def test_stand_in_is_seeded_and_photo_like():
    a, b = L.photo_stand_in(120, 90), L.photo_stand_in(120, 90)
    assert a.size == (120, 90) and np.array_equal(np.asarray(a), np.asarray(b))
    png, jpeg = _encode(a, "PNG", 95), _encode(a, "JPEG", 95)
    # sensor noise: PNG far from a flat image's few bytes, ~2-4x JPEG q95 as for photos
    assert len(png) > 2 * len(jpeg) and len(png) > 120 * 90
    assert np.array_equal(np.asarray(decode_image(png)), np.asarray(a))


def test_loader_bench_prints_rates_and_cores_per_gpu(capsys):
    rows = bench.main(["loader", "--size", "80x60", "--seconds", "0.05", "--model-throughput", "1000"])
    out = capsys.readouterr().out
    assert [r["format"] for r in rows] == ["png", "jpeg q95"]
    for r in rows:
        assert r["decode"] > r["decode+transform"] > 0
        assert r["cores_per_gpu"] == math.ceil(1000 / r["decode+transform"])
        assert f"{r['cores_per_gpu']:30d}" in out
    assert "224 px" in out and "rand-m9-mstd0.5-inc1" in out  # paper.yaml's transform


def test_loader_bench_refuses_bad_arguments():
    with pytest.raises(SystemExit):
        L.main(["--size", "500by375"])
    with pytest.raises(ValueError, match="format must be one of"):
        L.measure(L.photo_stand_in(8, 8), "webp", 95, {"input_size": 8}, 0.01)
