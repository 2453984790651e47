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
