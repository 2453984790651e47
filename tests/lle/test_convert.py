"""Tests of vlmbias.lle.convert: the official UrbanCars folder tree (Whac-A-Mole's gen_urbancars.py
+ urbancars_aug_gen_bg_only.py layout) -> the project's shards, read back with the project's reader
and sampled into an index that vlmbias.lle.run reads."""

from __future__ import annotations

import io
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from vlmbias.core.config import CONVERTED_SHARDS
from vlmbias.lle import convert as C
from vlmbias.shards.reader import BadInputCounter, iter_samples, read_member, scan_shard

ROOT = pathlib.Path(__file__).resolve().parents[2]
PER_CELL = {"train": 2, "val": 1, "test": 1}
CELLS = list(itertools.product((0, 1), repeat=3))
SIZE = 16


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def make_tree(root: pathlib.Path, per_cell: dict = PER_CELL, bg_only: bool = True) -> pathlib.Path:
    """A tiny official tree: per cell ``NNN.jpg`` + ``NNN_mask.png`` + ``NNN_co_occur_obj_mask.png``
    (3-channel 0/255, as torchvision's save_image writes them) and, in train, ``NNN_bg_only.png``."""
    for split, n in per_cell.items():
        for o, b, c in CELLS:
            d = root / C.RATIO_DIRS[split] / split / C.cell_name(o, b, c)
            d.mkdir(parents=True)
            for i in range(n):
                colour = (40 + 100 * o, 40 + 100 * b, 40 + 100 * c + 10 * i)
                Image.new("RGB", (SIZE, SIZE), colour).save(d / f"{i:03d}.jpg", quality=90)
                car = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
                car.paste((255, 255, 255), (4, 4, 12, 12))
                (d / f"{i:03d}_mask.png").write_bytes(_png(car))
                co = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
                co.paste((255, 255, 255), (12, 6, 16, 10))
                (d / f"{i:03d}_co_occur_obj_mask.png").write_bytes(_png(co))
                if split == "train" and bg_only:
                    Image.new("RGB", (SIZE, SIZE), colour[::-1]).save(d / f"{i:03d}_bg_only.png")
    return root


def out_paths(folder: pathlib.Path) -> list[str]:
    return [str(folder / f"{i:05d}.tar") for i in range(CONVERTED_SHARDS)]


def expected_keys() -> list[str]:
    return [f"{split}_{C.NAMES[o]}_{C.NAMES[b]}_{C.NAMES[c]}_{i:03d}"
            for split in C.SPLITS for o, b, c in CELLS for i in range(PER_CELL[split])]


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "urbancars")


def quiet(msg: str) -> None:
    pass


def test_round_trip(tree, tmp_path):
    paths = out_paths(tmp_path / "out")
    logged = []
    counts = C.convert(str(tree), paths, log=logged.append)
    n = 8 * sum(PER_CELL.values())
    assert counts["total"] == n and sum(counts["shards"]) == n and len(counts["shards"]) == CONVERTED_SHARDS
    assert max(counts["shards"]) - min(counts["shards"]) <= 1
    for split, k in PER_CELL.items():
        assert counts["splits"][split]["n"] == 8 * k
        assert set(counts["splits"][split]["cells"].values()) == {k}
        assert counts["splits"][split]["bg_only"] == (8 * k if split == "train" else 0)
    text = "\n".join(logged)
    assert "train: 16 images" in text and "test obj-country_bg-urban_co_occur_obj-country" in text
    assert all(os.path.isfile(p) and not os.path.exists(p + ".tmp") for p in paths)

    counter = BadInputCounter()
    samples = list(iter_samples(paths, counter, decode=False))
    assert counter.seen == counter.used == n
    assert [s["key"] for s in samples] == expected_keys()  # sorted, contiguous chunks in shard order
    refs = {ref.key: (p, ref) for p in paths for ref in scan_shard(p, BadInputCounter())}
    for s in samples:
        split, o, b, c, number = s["key"].split("_")
        ids = C.NAMES.index(o), C.NAMES.index(b), C.NAMES.index(c)
        folder = tree / C.RATIO_DIRS[split] / split / C.cell_name(*ids)
        assert s["ext"] == "jpg" and s["image"] == (folder / f"{number}.jpg").read_bytes()  # bytes as stored
        m = s["meta"]
        assert (m["label"], m["background"], m["coobj"]) == ids and m["split"] == split
        assert m["group"] == 4 * ids[0] + 2 * ids[1] + ids[2]
        assert m["bg_aligned"] == (ids[1] == ids[0]) and m["coobj_aligned"] == (ids[2] == ids[0])
        assert (m["class_name"], m["background_name"], m["coobj_name"]) == (
            C.CLASS_NAMES[ids[0]], C.NAMES[ids[1]], C.NAMES[ids[2]])
        assert m["source"] == f"{C.RATIO_DIRS[split]}/{split}/{C.cell_name(*ids)}/{number}.jpg"
        path, ref = refs[s["key"]]
        want = {"jpg", "json", "car_mask.png", "coobj_mask.png"} | ({"bg_only.png"} if split == "train" else set())
        assert set(ref.members) == want
        car = Image.open(io.BytesIO(read_member(path, *ref.members["car_mask.png"])))
        assert car.mode == "L" and car.size == (SIZE, SIZE)
        assert car.getpixel((8, 8)) == 255 and car.getpixel((0, 0)) == 0 and car.getpixel((13, 8)) == 0
        co = Image.open(io.BytesIO(read_member(path, *ref.members["coobj_mask.png"])))
        assert co.mode == "L" and co.getpixel((14, 8)) == 255 and co.getpixel((8, 8)) == 0
        if split == "train":
            assert read_member(path, *ref.members["bg_only.png"]) == (folder / f"{number}_bg_only.png").read_bytes()


def test_same_keys_and_names_as_the_toy_world():
    from vlmbias.toyworld import urbancars as toy

    assert C.CLASS_NAMES == toy.CLASS_NAMES and C.NAMES == toy.FACTOR_NAMES
    meta = C.metadata("train", 1, 0, 1, "x.jpg")
    for k in ("label", "class_name", "background", "background_name", "coobj", "coobj_name", "bg_aligned",
              "coobj_aligned", "group", "split"):
        assert k in meta
    assert meta["group"] == 4 + 0 + 1 and meta["bg_aligned"] is False and meta["coobj_aligned"] is True
    assert C.OFFICIAL_CELL_COUNTS["train"][(0, 0, 0)] == 3610 and C.OFFICIAL_CELL_COUNTS["train"][(1, 0, 0)] == 10
    assert sum(C.OFFICIAL_CELL_COUNTS["train"].values()) == 8000


def test_deterministic_and_root_above_urbancars(tree, tmp_path):
    a, b = out_paths(tmp_path / "a"), out_paths(tmp_path / "b")
    C.convert(str(tree), a, log=quiet)
    logged = []
    counts = C.convert(str(tree.parent), b, log=logged.append)  # the official dataset classes' root
    assert counts["root"] == str(tree) and any("urbancars/" in line for line in logged)
    assert [open(p, "rb").read() for p in a] == [open(p, "rb").read() for p in b]


def test_bg_only_optional_when_not_required(tmp_path):
    tree = make_tree(tmp_path / "uc", bg_only=False)
    with pytest.raises(C.UrbanCarsLayoutError, match="without its background-only image.*000_bg_only.png"):
        C.convert(str(tree), out_paths(tmp_path / "o1"), log=quiet)
    counts = C.convert(str(tree), out_paths(tmp_path / "o2"), log=quiet, require_bg_only=False)
    assert counts["splits"]["train"]["bg_only"] == 0


def test_strays_are_logged_not_fatal(tree, tmp_path):
    cell = tree / C.RATIO_DIRS["val"] / "val" / C.cell_name(0, 0, 0)
    (cell / "notes.txt").write_text("x")
    shutil.copy(cell / "000_mask.png", cell / "007_mask.png")  # a mask whose image is gone
    (tree / C.RATIO_DIRS["val"] / "val" / "README").write_text("x")
    logged = []
    counts = C.convert(str(tree), out_paths(tmp_path / "out"), log=logged.append)
    assert counts["total"] == 32
    text = "\n".join(logged)
    assert "notes.txt" in text and "007_mask.png" in text and "README" in text


def _cell(tree, split="val", ids=(0, 1, 0)):
    return tree / C.RATIO_DIRS[split] / split / C.cell_name(*ids)


@pytest.mark.parametrize("case, pattern", [
    ("root_missing", r"root does not exist: .*nowhere"),
    ("root_is_file", r"root is not a folder"),
    ("split_missing", r"test split folder missing: .*bg-0\.5_co_occur_obj-0\.5/test"),
    ("train_missing", r"train split folder missing: .*bg-0\.95_co_occur_obj-0\.95/train"),
    ("bad_folder", r"folder name does not parse: .*obj-suv_bg-urban_co_occur_obj-urban"),
    ("bad_folder_shape", r"folder name does not parse: .*/val/misc"),
    ("cell_missing", r"val: cell folder\(s\) missing .*obj-urban_bg-country_co_occur_obj-urban"),
    ("bad_image_name", r"image name does not parse: .*obj-urban_bg-country_co_occur_obj-urban/cover\.jpg"),
    ("no_car_mask", r"without its car mask: .*obj-urban_bg-country_co_occur_obj-urban/000\.jpg has no 000_mask\.png"),
    ("no_coobj_mask", r"without its co-object mask: .*/000\.jpg has no 000_co_occur_obj_mask\.png"),
    ("no_bg_only", r"train image without its background-only image: .*/001\.jpg has no 001_bg_only\.png"),
    ("unreadable_image", r"unreadable UrbanCars image .*test/obj-country_bg-country_co_occur_obj-country/000\.jpg"),
    ("truncated_image", r"unreadable UrbanCars image .*test/obj-country_bg-country_co_occur_obj-country/000\.jpg"),
    ("unreadable_mask", r"unreadable UrbanCars image .*obj-urban_bg-country_co_occur_obj-urban/000_mask\.png"),
    ("mask_size", r"car_mask .*000_mask\.png is 8x8, its image .*000\.jpg 16x16"),
    ("zero_images", r"val: no image \(\*\.jpg\) in any cell folder"),
])
def test_errors_name_the_culprit(tmp_path, case, pattern):
    tree = make_tree(tmp_path / "uc")
    root = str(tree)
    if case == "root_missing":
        root = str(tmp_path / "nowhere")
    elif case == "root_is_file":
        root = str(tmp_path / "file")
        open(root, "w").close()
    elif case == "split_missing":
        shutil.rmtree(tree / C.RATIO_DIRS["test"] / "test")
    elif case == "train_missing":
        shutil.rmtree(tree / C.RATIO_DIRS["train"])
    elif case == "bad_folder":
        shutil.copytree(_cell(tree, "train", (0, 0, 0)), tree / C.RATIO_DIRS["train"] / "train" /
                        "obj-suv_bg-urban_co_occur_obj-urban")
    elif case == "bad_folder_shape":
        (tree / C.RATIO_DIRS["val"] / "val" / "misc").mkdir()
    elif case == "cell_missing":
        shutil.rmtree(_cell(tree))
    elif case == "bad_image_name":
        shutil.copy(_cell(tree) / "000.jpg", _cell(tree) / "cover.jpg")
    elif case == "no_car_mask":
        os.remove(_cell(tree) / "000_mask.png")
    elif case == "no_coobj_mask":
        os.remove(_cell(tree) / "000_co_occur_obj_mask.png")
    elif case == "no_bg_only":
        os.remove(_cell(tree, "train") / "001_bg_only.png")
    elif case == "unreadable_image":
        (_cell(tree, "test", (1, 1, 1)) / "000.jpg").write_bytes(b"not a jpeg at all")
    elif case == "truncated_image":
        p = _cell(tree, "test", (1, 1, 1)) / "000.jpg"
        p.write_bytes(p.read_bytes()[:200])
    elif case == "unreadable_mask":
        p = _cell(tree) / "000_mask.png"
        data = bytearray(p.read_bytes())
        data[40:48] = b"\x00" * 8  # breaks a chunk CRC: PIL verify fails
        p.write_bytes(bytes(data))
    elif case == "mask_size":
        Image.new("RGB", (8, 8)).save(_cell(tree) / "000_mask.png")
    elif case == "zero_images":
        for d in (tree / C.RATIO_DIRS["val"] / "val").iterdir():
            for f in d.iterdir():
                f.unlink()
    out = tmp_path / "out"
    paths = out_paths(out)
    os.makedirs(out)
    open(paths[-1], "wb").close()  # a stale shard of an earlier run
    with pytest.raises(C.UrbanCarsLayoutError, match=pattern):
        C.convert(root, paths, log=quiet)
    if case in ("unreadable_image", "truncated_image", "unreadable_mask", "mask_size"):
        assert os.listdir(out) == []  # met while writing: every shard removed, .tmp and stale ones included
    else:
        assert os.listdir(out) == [os.path.basename(paths[-1])]  # layout checked before anything is written


def test_converted_shards_sample_into_an_index_lle_reads(tree, tmp_path):
    from vlmbias.lle.run import factors
    from vlmbias.shards.dataset import ShardImageDataset, labeled_split
    from vlmbias.shards.sampler import sample_dataset

    paths = out_paths(tmp_path / "converted")
    C.convert(str(tree), paths, log=quiet)
    sample_dir = str(tmp_path / "sample")
    sample_dataset("urbancars_official", paths, sample_dir, n_train=0, n_val=0, seed=0, max_side=64,
                   max_bad_fraction=0.0, progress=False, splits={"train": 16, "val": 8, "test": 8})
    for split in C.SPLITS:
        records, rows = labeled_split(sample_dir, split)
        f = factors(rows, split)
        assert len(f) == 8 * PER_CELL[split]
        assert sorted(f["group"]) == sorted(list(range(8)) * PER_CELL[split])  # every cell, as converted
        assert list(f["label"]) == [r.label for r in records]
        sources = [json.loads(m)["source"] for m in rows["metadata"]]
        for (_, r), src in zip(f.iterrows(), sources):
            cell = pathlib.PurePosixPath(src).parent.name
            assert C.parse_cell(cell) == (r["label"], r["background"], r["coobj"])
    records, _ = labeled_split(sample_dir, "train")
    ds = ShardImageDataset(records, None)
    assert ds.extra(0, "car_mask").mode == "L" and ds.extra(0, "bg_only").size == (SIZE, SIZE)
    assert ds.extra(3, "coobj_mask.png").getpixel((14, 8)) == 255


def test_rule_script(tree, tmp_path):
    """scripts/lle_convert_urbancars.py with a stand-in ``snakemake`` object: log and shards."""
    paths = out_paths(tmp_path / "out")
    log = tmp_path / "convert.log"
    code = f"""
import runpy, types
sm = types.SimpleNamespace(scriptdir={str(ROOT / 'scripts')!r}, log=[{str(log)!r}], rule="lle_convert_urbancars",
                           input=types.SimpleNamespace(root={str(tree)!r}), output={paths!r},
                           wildcards=types.SimpleNamespace(converted="uc"), resources={{}}, threads=1)
runpy.run_path({str(ROOT / 'scripts' / 'lle_convert_urbancars.py')!r}, init_globals={{"snakemake": sm}})
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    assert all(os.path.isfile(p) for p in paths)
    text = log.read_text()
    assert "uc: 32 images converted (train 16, val 8, test 8)" in text
    assert "train obj-urban_bg-urban_co_occur_obj-urban (label 0, background 0, coobj 0): 2" in text
