"""The UrbanCars methods (t14), one module each, plug-ins of the one training loop
(``base``: the interface; ``vlmbias/lle/methods.yaml``: the registry with the defaults)."""

from __future__ import annotations

import importlib

from vlmbias.lle.methods.base import Context, Setup


def setup(module: str, ctx: Context) -> Setup:
    """Run method module ``module``'s ``setup`` on a run's context."""
    mod = importlib.import_module(f"vlmbias.lle.methods.{module}")
    out = mod.setup(ctx)
    if not isinstance(out, Setup):
        raise TypeError(f"vlmbias.lle.methods.{module}.setup returned {type(out).__name__}, not a Setup")
    return out
