"""The official UrbanCars folder tree -> the project's WebDataset shards (rule ``lle_convert_urbancars``).

Input: what facebookresearch/Whac-A-Mole's ``create_datasets/urbancars/gen_urbancars.py``
(``--split train|val|test``) and ``urbancars_aug_gen_bg_only.py`` write under their
``--gen_data_dir`` (default ``data/urbancars``); research notes §1.3 and §1.5::

    ROOT/bg-0.95_co_occur_obj-0.95/train/obj-{o}_bg-{b}_co_occur_obj-{c}/NNN.jpg
    ROOT/bg-0.5_co_occur_obj-0.5/{val,test}/obj-{o}_bg-{b}_co_occur_obj-{c}/NNN.jpg

with ``o``, ``b``, ``c`` in ("urban", "country") (the official ``obj_name_list``,
``bg_name_list``, ``co_occur_obj_name_list`` of ``dataset/urbancars.py``; their index is the
label, 0 urban, 1 country), ``NNN`` the image's number in its cell (``f"{i:03d}"``, so 3 digits
or more) and beside each image ``NNN_mask.png`` (the car), ``NNN_co_occur_obj_mask.png`` (the
co-object) and, in train, ``NNN_bg_only.png`` (LLE's background-only image). ``ROOT`` may also be
the folder that holds ``urbancars/`` (the ``root`` the official ``UrbanCars`` dataset class
takes).

Output: every image as one sample, the same members and metadata keys as the toy world's
``urban_car`` (``vlmbias.toyworld.urbancars``), so the sampler, ``vlmbias.lle.run`` and the LLE
shifts read both alike:

- key ``{split}_{o}_{b}_{c}_{NNN}`` (e.g. ``train_urban_country_urban_042``);
- ``jpg``: the image's bytes as stored;
- ``json``: ``label``, ``class_name``, ``background``, ``background_name``, ``coobj``,
  ``coobj_name``, ``bg_aligned``, ``coobj_aligned``, ``group`` (= 4 label + 2 background +
  coobj, the official (obj, bg, co_occur_obj) table index), ``split``, and ``source`` (the
  image's path under ROOT);
- ``car_mask.png`` and ``coobj_mask.png``: the masks as single-channel ("L") PNGs. The official
  ones are 3-channel PNGs (torchvision ``save_image``) with equal channels, so the conversion
  loses nothing; stored as L they are masks to the sampler too (nearest-neighbour resizing);
- ``bg_only.png``: the official file's bytes, where it exists (train; required there unless
  ``require_bg_only`` is False).

Samples are sorted (train, val, test; cells in the official (obj, bg, coobj) order; images by
number) and cut into ``len(out_paths)`` contiguous chunks of near-equal size, one per shard, so
the same tree always gives byte-identical shards. Everything about the layout is checked before
any shard is written; every image and companion is decoded (PIL ``verify`` and a full load)
while writing, and a failure removes the shards (no partial output). Every error is a
:class:`UrbanCarsLayoutError` naming the path at fault.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass, field
from typing import Callable

from PIL import Image

from vlmbias.shards.writer import ShardWriter

#: The official factor names (obj / bg / co_occur_obj); the index is the 0/1 label.
NAMES = ("urban", "country")
#: The toy world's class names (vlmbias.toyworld.urbancars.CLASS_NAMES).
CLASS_NAMES = ("urban car", "country car")
SPLITS = ("train", "val", "test")
#: split -> the ratio folder the official generator writes it under (val/test forced to 0.5).
RATIO_DIRS = {"train": "bg-0.95_co_occur_obj-0.95", "val": "bg-0.5_co_occur_obj-0.5",
              "test": "bg-0.5_co_occur_obj-0.5"}
#: Images per split and (obj, bg, coobj) cell of the full official data (research notes §1.4).
OFFICIAL_CELL_COUNTS = {
    "train": {(o, b, c): int(4000 * (0.95 if b == o else 0.05) * (0.95 if c == o else 0.05) + 1e-6)
              for o in (0, 1) for b in (0, 1) for c in (0, 1)},
    "val": {(o, b, c): 125 for o in (0, 1) for b in (0, 1) for c in (0, 1)},
    "test": {(o, b, c): 125 for o in (0, 1) for b in (0, 1) for c in (0, 1)},
}
#: our member -> the official companion file's suffix (after NNN)
COMPANIONS = {"car_mask.png": "_mask.png", "coobj_mask.png": "_co_occur_obj_mask.png",
              "bg_only.png": "_bg_only.png"}
MASKS = ("car_mask.png", "coobj_mask.png")

_CELL_RE = re.compile(r"obj-([^_]+)_bg-([^_]+)_co_occur_obj-([^_]+)")
_IMAGE_RE = re.compile(r"(\d+)\.jpg")
_COMPANION_RE = re.compile(r"(\d+)(_mask|_co_occur_obj_mask|_bg_only)\.png")


class UrbanCarsLayoutError(ValueError):
    """The official UrbanCars tree is missing, incomplete or malformed; the message names the path."""


@dataclass(frozen=True)
class Item:
    """One official image and its companion files (member -> absolute path)."""

    split: str
    obj: int
    bg: int
    coobj: int
    number: str
    image: str
    companions: dict = field(default_factory=dict, compare=False)

    @property
    def cell(self) -> str:
        return cell_name(self.obj, self.bg, self.coobj)

    @property
    def key(self) -> str:
        return f"{self.split}_{NAMES[self.obj]}_{NAMES[self.bg]}_{NAMES[self.coobj]}_{self.number}"


def cell_name(obj: int, bg: int, coobj: int) -> str:
    """The official folder name of a cell: ``obj-{o}_bg-{b}_co_occur_obj-{c}``."""
    return f"obj-{NAMES[obj]}_bg-{NAMES[bg]}_co_occur_obj-{NAMES[coobj]}"


def parse_cell(name: str) -> tuple[int, int, int] | None:
    """(obj, bg, coobj) ids of an official cell folder name, or None if it does not parse."""
    m = _CELL_RE.fullmatch(name)
    if m is None or any(v not in NAMES for v in m.groups()):
        return None
    return tuple(NAMES.index(v) for v in m.groups())


def metadata(split: str, obj: int, bg: int, coobj: int, source: str) -> dict:
    """The json metadata of one converted image (the toy ``urban_car``'s factor keys)."""
    return {"label": obj, "class_name": CLASS_NAMES[obj], "background": bg, "background_name": NAMES[bg],
            "coobj": coobj, "coobj_name": NAMES[coobj], "bg_aligned": bg == obj, "coobj_aligned": coobj == obj,
            "group": 4 * obj + 2 * bg + coobj, "split": split, "source": source}


def resolve_root(root: str) -> str:
    """The folder holding the ratio folders: ``root`` itself, or ``root/urbancars`` when only that
    one does (the official dataset classes take the folder above ``urbancars/``)."""
    if not os.path.exists(root):
        raise UrbanCarsLayoutError(f"UrbanCars root does not exist: {root!r} (give the folder gen_urbancars.py "
                                   "wrote, holding bg-0.95_co_occur_obj-0.95/ and bg-0.5_co_occur_obj-0.5/)")
    if not os.path.isdir(root):
        raise UrbanCarsLayoutError(f"UrbanCars root is not a folder: {root!r}")
    ratio_dirs = set(RATIO_DIRS.values())
    here = any(os.path.isdir(os.path.join(root, d)) for d in ratio_dirs)
    below = os.path.join(root, "urbancars")
    if not here and any(os.path.isdir(os.path.join(below, d)) for d in ratio_dirs):
        return below
    return root


def _list(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


def scan(root: str, require_bg_only: bool = True, log: Callable[[str], None] = print) -> list[Item]:
    """Every official image under ``root`` with its companions, sorted (see the module doc);
    raises :class:`UrbanCarsLayoutError` on a missing split or cell folder, a folder or image
    name that does not parse, an image without its masks (or, in train with
    ``require_bg_only``, without its ``_bg_only.png``), or a split with no image."""
    base = resolve_root(root)
    if base != root:
        log(f"UrbanCars root {root}: using its urbancars/ folder {base}")
    items: list[Item] = []
    for split in SPLITS:
        split_dir = os.path.join(base, RATIO_DIRS[split], split)
        if not os.path.isdir(split_dir):
            raise UrbanCarsLayoutError(
                f"UrbanCars {split} split folder missing: {split_dir} (gen_urbancars.py --split {split} writes it; "
                f"expected {RATIO_DIRS[split]}/{split}/obj-*_bg-*_co_occur_obj-*/ under {base})")
        cells: dict[tuple[int, int, int], str] = {}
        for name in _list(split_dir):
            path = os.path.join(split_dir, name)
            if not os.path.isdir(path):
                log(f"ignored file {path} (not a cell folder)")
                continue
            ids = parse_cell(name)
            if ids is None:
                raise UrbanCarsLayoutError(
                    f"UrbanCars folder name does not parse: {path} (expected obj-{{o}}_bg-{{b}}_co_occur_obj-{{c}} "
                    f"with o, b, c in {NAMES})")
            cells[ids] = path
        missing = [cell_name(*ids) for ids in OFFICIAL_CELL_COUNTS[split] if ids not in cells]
        if missing:
            raise UrbanCarsLayoutError(f"UrbanCars {split}: cell folder(s) missing in {split_dir}: "
                                       f"{', '.join(missing)}")
        n_split = 0
        for ids in sorted(cells):
            found, n_cell = _scan_cell(split, ids, cells[ids], require_bg_only and split == "train", log)
            items += found
            n_split += n_cell
        if n_split == 0:
            raise UrbanCarsLayoutError(f"UrbanCars {split}: no image (*.jpg) in any cell folder of {split_dir}")
    return items


def _scan_cell(split: str, ids: tuple[int, int, int], folder: str, need_bg_only: bool,
               log: Callable[[str], None]) -> tuple[list[Item], int]:
    names = _list(folder)
    present = set(names)
    numbers, ignored, orphans = [], [], []
    for name in names:
        if name.endswith(".jpg"):
            m = _IMAGE_RE.fullmatch(name)
            if m is None:
                raise UrbanCarsLayoutError(f"UrbanCars image name does not parse: {os.path.join(folder, name)} "
                                           "(expected NNN.jpg, NNN a number, as gen_urbancars.py writes)")
            numbers.append(m.group(1))
            continue
        m = _COMPANION_RE.fullmatch(name)
        if m is None:
            ignored.append(name)
        elif f"{m.group(1)}.jpg" not in present:
            orphans.append(name)
    if ignored:
        log(f"{folder}: ignored {len(ignored)} file(s) that are neither NNN.jpg nor its companions, "
            f"e.g. {ignored[0]}")
    if orphans:
        log(f"{folder}: WARNING {len(orphans)} companion file(s) without their image, e.g. {orphans[0]}")
    if not numbers:
        log(f"{folder}: WARNING no image in this cell")
    items = []
    for number in sorted(numbers, key=lambda s: (int(s), s)):
        companions = {}
        for member, suffix in COMPANIONS.items():
            path = os.path.join(folder, number + suffix)
            if number + suffix in present and os.path.isfile(path):
                companions[member] = path
            elif member in MASKS:
                what = "car" if member == "car_mask.png" else "co-object"
                raise UrbanCarsLayoutError(f"UrbanCars image without its {what} mask: "
                                           f"{os.path.join(folder, number + '.jpg')} has no {number + suffix}")
            elif need_bg_only:
                raise UrbanCarsLayoutError(
                    f"UrbanCars train image without its background-only image: {os.path.join(folder, number + '.jpg')} "
                    f"has no {number + suffix} (run urbancars_aug_gen_bg_only.py on the train folder; LLE needs it)")
        items.append(Item(split, *ids, number, os.path.join(folder, number + ".jpg"), companions))
    return items, len(items)


def _read_checked(path: str) -> tuple[bytes, Image.Image]:
    """The file's bytes and its fully decoded image; an unreadable file is an error naming it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            image = im.copy()
    except Exception as e:  # OSError, SyntaxError, PIL's DecompressionBombError, ...
        raise UrbanCarsLayoutError(f"unreadable UrbanCars image {path}: {type(e).__name__}: {e}") from e
    return data, image


def _as_l_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    (image if image.mode == "L" else image.convert("L")).save(buf, format="PNG")
    return buf.getvalue()


def members(item: Item, base: str) -> dict[str, bytes]:
    """One item's shard members (read and decode-checked)."""
    data, image = _read_checked(item.image)
    meta = metadata(item.split, item.obj, item.bg, item.coobj, os.path.relpath(item.image, base))
    out = {"jpg": data, "json": json.dumps(meta, ensure_ascii=False).encode("utf-8")}
    for member, path in item.companions.items():
        extra, extra_image = _read_checked(path)
        if extra_image.size != image.size:
            raise UrbanCarsLayoutError(f"UrbanCars {member.split('.')[0]} {path} is {extra_image.size[0]}x"
                                       f"{extra_image.size[1]}, its image {item.image} {image.size[0]}x{image.size[1]}")
        out[member] = _as_l_png(extra_image) if member in MASKS else extra
    return out


def chunks(n: int, parts: int) -> list[range]:
    """``n`` positions cut into ``parts`` contiguous ranges, the first ``n % parts`` one longer."""
    q, r = divmod(n, parts)
    out, start = [], 0
    for i in range(parts):
        stop = start + q + (i < r)
        out.append(range(start, stop))
        start = stop
    return out


def counts_table(items: list[Item]) -> dict:
    """Images per split and cell, bg_only members per split."""
    out = {}
    for split in SPLITS:
        mine = [it for it in items if it.split == split]
        cells = {cell_name(*ids): sum(1 for it in mine if (it.obj, it.bg, it.coobj) == ids)
                 for ids in OFFICIAL_CELL_COUNTS[split]}
        out[split] = {"n": len(mine), "cells": cells,
                      "bg_only": sum(1 for it in mine if "bg_only.png" in it.companions)}
    return out


def convert(root: str, out_paths: list[str], log: Callable[[str], None] = print,
            require_bg_only: bool = True) -> dict:
    """Convert the official tree at ``root`` into the shards ``out_paths`` (see the module doc).
    Returns the counts: ``{"root", "total", "splits": {split: {"n", "cells", "bg_only"}},
    "shards": [samples per shard]}``."""
    out_paths = [os.fspath(p) for p in out_paths]
    if not out_paths or len(set(out_paths)) != len(out_paths):
        raise ValueError(f"convert: need one or more distinct output shard paths, got {out_paths}")
    base = resolve_root(root)
    items = scan(root, require_bg_only=require_bg_only, log=log)
    table = counts_table(items)
    for split in SPLITS:
        t = table[split]
        log(f"{split}: {t['n']} images, {t['bg_only']} with bg_only")
        for ids, official in OFFICIAL_CELL_COUNTS[split].items():
            n = t["cells"][cell_name(*ids)]
            note = "" if n == official else f"  (the full official data has {official})"
            log(f"  {split} {cell_name(*ids)} (label {ids[0]}, background {ids[1]}, coobj {ids[2]}): {n}{note}")
    parts = chunks(len(items), len(out_paths))
    writer = None
    try:
        for path, part in zip(out_paths, parts):
            writer = ShardWriter(path)
            for i in part:
                writer.write(items[i].key, members(items[i], base))
            writer.close()
            writer = None
    except BaseException:
        if writer is not None:
            writer.abort()
        for path in out_paths:  # no partial output: a failed conversion leaves no shard
            if os.path.exists(path):
                os.remove(path)
        raise
    sizes = [len(p) for p in parts]
    log(f"wrote {len(items)} samples into {len(out_paths)} shards ({min(sizes)}-{max(sizes)} each): "
        f"{out_paths[0]} .. {out_paths[-1]}")
    return {"root": base, "total": len(items), "splits": table, "shards": sizes}
