"""The slot check of the GPU check (vlmbias.core.gpu_check): its failure modes. The passing case on
fake devices runs in tests/train/test_throughput.py (the tiny CPU check)."""

import pytest

from vlmbias.core import gpu_check


def test_no_device_in_the_pool_is_an_error(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(RuntimeError, match="no GPU in the pool"):
        gpu_check.check_slots(fake_devices=0)


def test_shared_device_is_reported(monkeypatch):
    # two jobs, but a user's CUDA_VISIBLE_DEVICES lists one device twice: the jobs lock "0" once and
    # the second lock file is the same, so the second job cannot get it -- the check must not hang
    # on it nor call it distinct
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,0")
    monkeypatch.setenv("VLMBIAS_GPU_WAIT_S", "1")
    with pytest.raises(RuntimeError, match="dummy job failed"):
        gpu_check.check_slots(fake_devices=2)
