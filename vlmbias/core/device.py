"""The device a job computes on: CUDA when present (bf16 autocast), else CPU; image batches and
conv weights channels_last on both (CPU, one thread, batch 64, fwd + bwd: toy ResNet-50 at 32 px
52 -> 35 ms, at 64 px 247 -> 174 ms, toy ResNet-26 39 -> 23 ms; toy ConvNeXt unchanged).
Which GPU a job gets is ``vlmbias.core.gpu``'s business; this module only picks and uses it."""

from __future__ import annotations

import contextlib

import torch


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} requested but CUDA is not available")
    return torch.device(requested)


def autocast(device: torch.device):
    """bf16 autocast on CUDA, nothing on CPU (fp32)."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def channels_last(x):
    """A module, or a 4-D batch, in channels_last memory format (other tensors as they are)."""
    if isinstance(x, torch.nn.Module):
        return x.to(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
