"""Records of a run: whole datasets and disjoint parts (pseudo-datasets) of one."""

import pytest

from vlmbias.shards.dataset import ShardImageDataset, records_for
from vlmbias.shards.reader import ShardError


def view(ds, part=None, parts=None):
    return {"dataset": ds, "part": part, "parts": parts}


def test_whole_datasets_label_by_view_order(tiny_samples):
    recs = records_for([view("cc"), view("yfcc")], tiny_samples, "train", 10)
    assert [r.label for r in recs] == [0] * 10 + [1] * 10
    ds = ShardImageDataset(recs, None)
    img, label = ds[0]
    assert img.size[0] > 0 and label == 0


def test_pseudo_parts_are_disjoint_and_cover(tiny_samples):
    views = [view("yfcc", k, 3) for k in range(3)]
    recs = records_for(views, tiny_samples, "train", 20)
    keys = [(r.path, r.offset) for r in recs]
    assert len(set(keys)) == 60 and [r.label for r in recs] == [0] * 20 + [1] * 20 + [2] * 20
    val = records_for(views, tiny_samples, "val", None)
    assert {(r.path, r.offset) for r in val}.isdisjoint(keys) and len(val) == 24


def test_too_many_asked_is_named(tiny_samples):
    with pytest.raises(ShardError, match="yfcc"):
        records_for([view("yfcc", 0, 3)], tiny_samples, "train", 21)


def test_cache_outputs_transforms_each_image_once(tiny_samples):
    import torch
    calls = []

    def tf(img):
        calls.append(1)
        return torch.tensor(img.size)

    recs = records_for([view("yfcc")], tiny_samples, "val")[:3]
    ds = ShardImageDataset(recs, tf, cache_outputs=True)
    first = [ds[i][0] for i in range(3)]
    again = [ds[i][0] for i in range(3)]
    assert len(calls) == 3 and all(a is b for a, b in zip(first, again))
    other = ds.with_transform(lambda img: torch.zeros(1))   # its own transform, not the cached outputs
    assert other[0][0].tolist() == [0.0]
    assert ShardImageDataset(recs, tf)[0][0].tolist() == first[0].tolist()
    with pytest.raises(ValueError, match="deterministic"):
        ShardImageDataset(recs, tf, cache_outputs=True, pre_transform=lambda im: im)


def test_deterministic_prefix_splits_at_the_first_random_step():
    from torchvision import transforms as T

    from vlmbias.shards.dataset import deterministic_prefix
    from vlmbias.train import recipe as R

    flip_only = {"input_size": 32, "augment": {"random_crop": False, "hflip": 0.5, "auto_augment": None}}
    prefix, rest = deterministic_prefix(R.train_transform(flip_only))
    assert [type(t).__name__ for t in prefix.transforms] == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    assert [type(t).__name__ for t in rest.transforms] == ["RandomHorizontalFlip"]
    prefix, rest = deterministic_prefix(R.eval_transform({"input_size": 32}))
    assert rest is None and len(prefix.transforms) == 4
    rrc = R.train_transform({"input_size": 32})          # random first: nothing to keep
    assert deterministic_prefix(rrc) == (None, rrc)
    fn = lambda img: img  # noqa: E731  (not a Compose: all rest)
    assert deterministic_prefix(fn) == (None, fn)

    class Jitter(T.Resize):   # a subclass may add randomness: not trusted
        pass
    assert deterministic_prefix(T.Compose([Jitter(8), T.ToTensor()]))[0] is None


def test_prefix_cache_gives_the_same_items_and_computes_each_prefix_once(tiny_samples):
    import torch

    from vlmbias.train import recipe as R

    flip_only = {"input_size": 16, "augment": {"random_crop": False, "hflip": 0.5, "auto_augment": None}}
    recs = records_for([view("yfcc")], tiny_samples, "train", 6)

    def epoch(ds, seed):
        torch.manual_seed(seed)
        return torch.stack([ds[i][0] for i in range(len(ds))])

    plain = ShardImageDataset(recs, R.train_transform(flip_only))
    cached = ShardImageDataset(recs, R.train_transform(flip_only), cache_images=True)
    for seed in (0, 1):
        assert torch.equal(epoch(plain, seed), epoch(cached, seed))
    assert len(cached._prefix_out) == 6
    cached.image = lambda i: (_ for _ in ()).throw(AssertionError("decoded again"))
    cached[0]
    whole = ShardImageDataset(recs, R.eval_transform({"input_size": 16}), cache_images=True)  # all prefix
    x = whole[0][0]
    x.fill_(7.0)                                          # an item written into ...
    assert not torch.equal(whole[0][0], x)                # ... is not the cached prefix output
    # the flip of the old order (on the PIL image, before ToTensor) gives the same tensors
    from torchvision import transforms as T
    t = R.train_transform(flip_only).transforms
    old = ShardImageDataset(recs, T.Compose([t[0], t[1], t[4], t[2], t[3]]))
    assert torch.equal(epoch(old, 3), epoch(cached, 3))
    # a random pre-transform (corruptions on train) changes the prefix's input: nothing kept
    noisy = ShardImageDataset(recs, R.train_transform(flip_only), cache_images=True, pre_transform=lambda im: im)
    noisy[0]
    assert noisy._prefix is None and not noisy._prefix_out
    seeded = ShardImageDataset(recs, R.train_transform(flip_only), cache_images=True,
                               pre_transform=lambda im: im, pre_transform_seed=1)
    seeded[0]
    assert len(seeded._prefix_out) == 1
    assert cached.with_transform(R.eval_transform({"input_size": 16}))._prefix_out == {}
