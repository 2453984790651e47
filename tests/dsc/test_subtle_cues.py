"""The subtle-cue world (config/subtle_cues.yaml): three toy sources that differ only by one faint
low-level signature each. The default toy ConvNeXt-T (max-pool stem) must tell them apart; with
ConvNeXt's own patchify stem the same model stays near chance (the reason the toy uses the other
stem, vlmbias.train.models.maxpool_stem). 16,000 samples seen instead of the overlay's 48,000:
measured 64.3% with the max-pool stem and 37.7% with the patchify one (chance 33.3%, 300 val
images per source)."""

import copy
import pathlib

import pytest
import yaml
from snakemake.utils import update_config

from vlmbias.dsc.run import run
from vlmbias.dsc.spec import run_spec
from vlmbias.toyworld import SOURCES

ROOT = pathlib.Path(__file__).resolve().parents[2]
VIEWS = ["subtle_cast", "subtle_grain", "subtle_soft"]


@pytest.fixture(scope="module")
def subtle(tmp_path_factory, toy_config, toy_sampler):
    cfg = copy.deepcopy(toy_config)
    with open(ROOT / "config" / "subtle_cues.yaml") as f:
        update_config(cfg, yaml.safe_load(f))
    cfg["train"].update(samples_seen=16000, warmup_samples=1600)
    root = tmp_path_factory.mktemp("subtle")
    dirs = toy_sampler(root, {n: cfg["toyworld"]["n_images_by_source"][n] for n in VIEWS},
                       n_train=cfg["sampling"]["n_train"], n_val=cfg["sampling"]["n_val"],
                       image_size=cfg["toyworld"]["image_size"], max_side=cfg["sampling"]["max_side"])
    return cfg, dirs, root


def test_sources_differ_only_by_one_signature_field():
    base = SOURCES[VIEWS[0]]
    for name in VIEWS:
        s = SOURCES[name]
        assert (s.mixture, s.framing, s.aspects, s.image_format) == (base.mixture, base.framing, base.aspects,
                                                                    base.image_format)
    fields = base.signature.__dataclass_fields__
    diffs = {n: {f for f in fields if getattr(SOURCES[n].signature, f) != getattr(SOURCES["subtle_grain"].signature, f)}
             for n in VIEWS}
    assert diffs == {"subtle_cast": {"warmth", "noise"}, "subtle_grain": set(), "subtle_soft": {"blur", "noise"}}


def _acc(cfg, dirs, root, name, model_spec):
    cfg = copy.deepcopy(cfg)
    cfg["models"]["convnext_t"] = model_spec
    spec = run_spec(cfg, VIEWS, "convnext_t")
    out = root / name
    return run(spec, dirs, str(out / "metrics.json"), str(out / "model.pt"), progress=False, log=lambda s: None)


def test_default_toy_convnext_learns_faint_cues_and_the_patchify_stem_does_not(subtle, one_thread):
    cfg, dirs, root = subtle
    default = cfg["models"]["convnext_t"]
    assert default.get("stem") == "maxpool"
    pool = _acc(cfg, dirs, root, "maxpool", default)
    patch = _acc(cfg, dirs, root, "patch", {k: v for k, v in default.items() if k != "stem"})
    assert pool["n_val"] == 900
    assert pool["val_acc"] > 52.0, pool["val_per_class_acc"]     # measured 64.3
    assert patch["val_acc"] < 45.0, patch["val_per_class_acc"]   # measured 37.7
