"""The shared CLIP stack: loader (open_clip names, pretrained tags, local checkpoints, the toy
architecture), templates and class names, zero-shot classifier, toy CLIP training through the one
training loop, the embedding cache, and the config checks."""

from __future__ import annotations

import copy
import json
import os

import open_clip
import pytest
import torch
from PIL import Image

from vlmbias import toyworld
from vlmbias.clip import embed, load, pretrain, zeroshot
from vlmbias.clip import spec as clip_spec
from vlmbias.clip.templates import templates
from vlmbias.core.config import ConfigError
from vlmbias.shards import sampler
from vlmbias.shards.reader import decode_image, read_member


@pytest.fixture(scope="module")
def toy_bundle():
    torch.manual_seed(0)
    return load.load_clip({"open_clip": "vlmbias-toy-vit"}, name="toy")


def test_toy_architecture_is_registered_with_open_clip(toy_bundle):
    assert "vlmbias-toy-vit" in open_clip.list_models() and "vlmbias-toy-vit" in clip_spec.TOY_ARCHS
    load.register_model_configs()  # idempotent
    cfg = open_clip.get_model_config("vlmbias-toy-vit")
    assert cfg["vision_cfg"]["patch_size"] == 8 and cfg["vision_cfg"]["image_size"] == 32
    b = toy_bundle
    assert (b.name, b.arch, b.weights, b.image_size, b.embed_dim) == ("toy", "vlmbias-toy-vit", "random", 32, 96)
    assert not b.model.training and next(b.model.parameters()).dtype == torch.float32
    x = b.preprocess(Image.new("RGB", (64, 48), (200, 30, 30)))
    assert tuple(x.shape) == (3, 32, 32)
    assert b.tokenizer(["a photo of a red ball on grass"]).shape == (1, 24)


def test_random_vit_b16_and_zero_shot_classifier():
    torch.manual_seed(0)
    b = load.load_clip({"open_clip": "ViT-B-16", "pretrained": None})
    assert b.weights == "random" and b.image_size == 224 and b.embed_dim == 512
    assert len(b.model.visual.transformer.resblocks) == 12
    w = zeroshot.zero_shot_weights(b, ["landbird", "waterbird"], templates("openai_imagenet")[:4])
    assert w.shape == (512, 2) and torch.allclose(w.norm(dim=0), torch.ones(2), atol=1e-5)
    with torch.no_grad():
        f = b.model.encode_image(b.preprocess(Image.new("RGB", (230, 240), (10, 120, 200)))[None])
    assert f.shape == (1, 512)
    r = zeroshot.zero_shot_accuracy(f, torch.tensor([1]), w)
    assert r["n"] == 1 and r["chance"] == 50.0 and r["top1"] in (0.0, 100.0)


def test_checkpoint_round_trip(tmp_path, toy_bundle):
    path = str(tmp_path / "toy.pt")
    with torch.no_grad():
        for p in toy_bundle.model.parameters():  # weights that differ from any random init
            p.add_(0.01)
    load.save_checkpoint(toy_bundle.model, path, "vlmbias-toy-vit", info={"note": "test"})
    # the file is open_clip's own format: its loader reads it
    again = load.load_clip({"open_clip": "vlmbias-toy-vit", "train": {"data": {"x": ["train"]}}},
                           checkpoint=path, name="toy")
    by_spec = load.load_clip({"open_clip": "vlmbias-toy-vit", "checkpoint": path})
    assert again.weights == f"checkpoint:{path}" and by_spec.weights == again.weights
    x = torch.randn(2, 3, 32, 32)
    tok = toy_bundle.tokenizer(["a photo of a cup", "a photo of a key"])
    with torch.no_grad():
        for b in (again, by_spec):
            assert torch.equal(b.model.encode_image(x), toy_bundle.model.encode_image(x))
            assert torch.equal(b.model.encode_text(tok), toy_bundle.model.encode_text(tok))
    assert torch.load(path, weights_only=True)["info"] == {"note": "test"}
    with pytest.raises(clip_spec.ClipError, match=r"ViT-B-16 with weights checkpoint:.*toy\.pt"):
        load.load_clip({"open_clip": "ViT-B-16"}, checkpoint=path)  # wrong architecture, named


@pytest.mark.parametrize("spec,needle", [
    ({"open_clip": "ViT-Q-99"}, "unknown open_clip model 'ViT-Q-99'"),
    ({"open_clip": "ViT-B-16", "pretrained": "laion9b"}, "no pretrained tag 'laion9b'"),
    ({"open_clip": "ViT-B-16", "pretrained": "openai", "checkpoint": "/x.pt"}, "at most one"),
    ({"open_clip": "ViT-B-16", "checkpoint": "/nonexistent/w.pt"}, "/nonexistent/w.pt does not exist"),
    ({"open_clip": "vlmbias-toy-vit", "train": {"data": {"a": ["train"]}}}, "results/clip/mine/model.pt"),
    ({"open_clip": "ViT-B-16", "weights": "x"}, "unknown keys"),
    ({"pretrained": "openai"}, "'open_clip'"),
])
def test_bad_specs_name_the_culprit(spec, needle):
    with pytest.raises(clip_spec.ClipError, match=r"clip model 'mine'.*" + needle.replace("(", r"\(")):
        load.load_clip(spec, name="mine")


def test_templates_and_class_names():
    openai = templates("openai_imagenet")
    assert len(openai) == 80 and openai[0]("dog") == "a bad photo of a dog."
    toy = templates("toy")
    assert "a photo of a red {} on grass" in toy and "a photo of an orange {} in water" in toy
    assert len(toy) == len(set(toy)) >= 30
    with pytest.raises(clip_spec.ClipError, match="unknown template set"):
        templates("mine")
    assert clip_spec.class_names({"toy": "imagenet"}) == toyworld.class_names("imagenet")
    assert clip_spec.class_names({"shards": "x", "classes": "imagenet"}) == list(open_clip.IMAGENET_CLASSNAMES)
    assert clip_spec.class_names({"toy": "waterbirds", "classes": ["land", "water"]}) == ["land", "water"]
    with pytest.raises(clip_spec.ClipError, match="no class names"):
        clip_spec.class_names({"shards": "x"})


def test_zero_shot_accuracy_counts():
    w = torch.eye(3)
    feats = torch.tensor([[2.0, 0, 0], [0, 1, 0.5], [0, 1, 0], [1, 0, 0]])
    r = zeroshot.zero_shot_accuracy(feats, torch.tensor([0, 1, 2, 2]), w)
    assert r["top1"] == 50.0 and r["per_class_top1"] == [100.0, 100.0, 0.0] and r["chance"] == pytest.approx(100 / 3)
    assert r["confusion"] == [[1, 0, 0], [0, 1, 0], [1, 1, 0]]
    with pytest.raises(clip_spec.ClipError, match="labels outside"):
        zeroshot.zero_shot_accuracy(feats, torch.tensor([0, 1, 2, 3]), w)


@pytest.fixture(scope="module")
def tiny_clip_world(tmp_path_factory):
    """webpairs (96 pairs) and the ImageNet-like source with its own train/val splits, sampled."""
    root = tmp_path_factory.mktemp("clipworld")
    dirs = {}
    for source, dataset, splits in (("webpairs", "webpairs", {"train": 96}),
                                    ("imagenet", "imagenet1k", {"train": 24, "val": 10})):
        shards = [str(root / "raw" / source / f"{i:05d}.tar") for i in range(2)]
        n = 96 if source == "webpairs" else 50
        toyworld.generate_source(source, n, shards, image_size=40, seed=0)
        dirs[dataset] = str(root / "samples" / dataset)
        sampler.sample_dataset(dataset, shards, dirs[dataset], 0, 0, seed=0, max_side=40,
                                max_bad_fraction=0.05, progress=False, splits=splits)
    return dirs


def test_toy_clip_trains_through_fit_and_the_loss_decreases(tmp_path, tiny_clip_world, one_thread):
    spec = {"open_clip": "vlmbias-toy-vit",
            "train": {"data": {"webpairs": ["train"], "imagenet1k": ["train"]}, "batch_size": 24,
                      "samples_seen": 24 * 30, "warmup_samples": 48, "lr": 2e-3, "device": "cpu"}}
    zs = {"dataset": "imagenet1k", "split": "val", "classnames": toyworld.class_names("imagenet"),
          "templates": templates("toy")[:6], "sample_dir": tiny_clip_world["imagenet1k"]}
    model, metrics_path = str(tmp_path / "clip" / "model.pt"), str(tmp_path / "clip" / "metrics.json")
    os.makedirs(tmp_path / "clip")
    m = pretrain.train_clip(spec, tiny_clip_world, model, metrics_path, zero_shot=zs, seed=0, name="t",
                        log=lambda s: None, progress=False)
    assert m["pairs"] == 120 and m["steps"] == 30 and m["data"]["webpairs/train"]["pairs"] == 96
    losses = [v for _, v in m["loss_curve"]]
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5, losses  # it learns
    assert m["zero_shot"]["n"] == 10 and m["zero_shot"]["chance"] == 10.0
    assert json.load(open(metrics_path))["zero_shot"]["top1"] == m["zero_shot"]["top1"]
    assert not os.path.exists(tmp_path / "clip" / "checkpoint.pt")  # the resume file is removed
    bundle = load.load_clip(spec, checkpoint=model, name="t")

    # the embedding cache: written once, same bytes when written again, read back with labels
    out = str(tmp_path / "emb" / "imagenet1k" / "val.npz")
    info = embed.embed_split(bundle, tiny_clip_world["imagenet1k"], "imagenet1k", "val", out, batch_size=4)
    assert info["n"] == 10 and info["dim"] == 96
    first = open(out, "rb").read()
    embed.embed_split(bundle, tiny_clip_world["imagenet1k"], "imagenet1k", "val", out, batch_size=4)
    assert open(out, "rb").read() == first
    e = embed.load_embeddings(out)
    index = sampler.load_index(tiny_clip_world["imagenet1k"])
    val = index[index["split"] == "val"].sort_values("rank")
    assert e.keys == val["key"].tolist() and e.labels.tolist() == val["label"].astype(int).tolist()
    assert torch.allclose(e.features.norm(dim=1), torch.ones(10), atol=1e-5)
    assert e.attribute("class_name") == [toyworld.OBJECT_CLASSES[k] for k in e.labels.tolist()]
    raw = embed.load_embeddings(out, normalize=False)
    with torch.no_grad():
        direct = bundle.model.encode_image(torch.stack([
            bundle.preprocess(_decode(tiny_clip_world["imagenet1k"], r)) for r in val.itertuples()]))
    assert torch.allclose(raw.features, direct, atol=1e-5)
    zs_cache = zeroshot.zero_shot_from_cache(bundle, out, zs["classnames"], zs["templates"])
    assert zs_cache["top1"] == pytest.approx(m["zero_shot"]["top1"])
    with pytest.raises(clip_spec.ClipError, match="does not exist"):
        embed.load_embeddings(str(tmp_path / "none.npz"))


def _decode(sample_dir, row):
    return decode_image(read_member(os.path.join(sample_dir, row.shard), row.offset, row.size))


def test_config_checks_name_the_culprit(toy_config):
    clip_spec.check(toy_config)  # the default config is valid
    for mutate, needle in [
        (lambda c: c["clip"]["models"]["toy_vit"]["train"]["data"].update(imagenet1k=["val"]),
         "trains on imagenet1k/val, the zero-shot evaluation set"),
        (lambda c: c["clip"]["embed"].update(waterbirds=["holdout"]), "no split 'holdout'"),
        (lambda c: c["clip"].update(zero_shot={"dataset": "flickr", "split": "val"}), "'flickr'"),
        (lambda c: c["clip"]["models"].update(big={"open_clip": "ViT-Q-99"}),
         "clip.models.big: unknown open_clip model 'ViT-Q-99'"),
        (lambda c: c["clip"].update(zero_shot={"dataset": "yfcc", "split": "val"}), "no labels"),
    ]:
        cfg = copy.deepcopy(toy_config)
        mutate(cfg)
        with pytest.raises(ConfigError, match=needle):
            clip_spec.check(cfg)
