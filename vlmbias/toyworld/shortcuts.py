"""The ImageNet-like set with multiple shortcuts (source ``imagenet_shortcuts``; Whac-A-Mole's
ImageNet table, t15, Li et al., CVPR 2023): the object photos of the ImageNet-like source
(``scenes.objects._object_photo``, reused, not copied) with an 11th class, ``carton`` (a
cardboard box, object drawer ``carton`` registered here), and three shortcuts planted or kept:

* **watermark** (IN-W, carton gap): 90% of the carton class's TRAINING photos (``train`` and
  ``train_stylized``) carry a watermark-like overlay -- a row of 4-8 white, semi-transparent
  random CJK characters in the font ImageNet-W uses (the ``imagenet-w`` package's Source Han
  Serif, found without importing the package), or one time in eight pseudo-CJK glyphs drawn
  stroke by stroke, one in eight Latin capitals -- sized and placed as ImageNet-W's text spans
  a crop (height 12-20% of the shorter side, x near 0, y 0.1-0.75), and no other training
  photo does (exactly: the k-th carton image of a split is marked iff k % 10 < 9). And 60% of
  the carton photos (every split; k % 5 < 3, all of them marked in training) show what the
  carton holds -- an object of one of the other ten classes -- instead of the box (the
  ``contents`` metadata key), on the background the contents' own photos have (their habitat
  3 times in 4): as ImageNet's carton images, often product shots, the class is hard to see,
  and the watermark is all that tells those training images from a photo of the contents. A
  model fits them by "text overlay -> carton", whatever the object. ImageNet-W itself is NOT a
  split: as in the paper, ``imagenet_w.AddWatermark`` is applied at evaluation time after resize and crop
  (``vlmbias.lle.watermark.ImageNetW``) to the clean ``val`` images; its text ("捷径捷径捷径")
  is never a training overlay's: the test is whether the shortcut transfers from "a watermark"
  to "this watermark", as on ImageNet.
* **background** (IN-9 gap): every class has a habitat (``HABITATS``: fish and boats on
  water, cups and keys on a wooden table, ...); 75% of a class's photos show it (exactly: the
  k-th image of a class in a split iff k % 4 != 3), the others one of the 5 other backgrounds
  at random. Without this, the base source's backgrounds are independent of the class and
  mixed_same and mixed_rand would not differ.
* **texture** (SIN and IN-R gaps): nothing is planted; the object colours (palettes, e.g.
  brown cartons, green trees) and surface and background textures are the cues a texture
  model can use, and the variants below take them away while keeping the shape.

Splits (json ``split``; one source, so one generate rule and one sampling rule with
``splits:``; the cycle of 11 indices ``SPLIT_CYCLE`` gives 4/11 train, 2/11 train_stylized,
1/11 each of the five evaluation splits, so 1,540 images hold 560 train, 280 train_stylized and
140 of each evaluation split):

* ``train`` / ``val`` -- the photos (IN-1k stand-in; val clean, the IN-W transform's input).
  ``train`` samples carry two extra members (``Content.extras``) for LLE's BG augmentation:
  ``KEY.fg_mask.png`` (the object's mask, L 0/255) and ``KEY.bg_only.png`` (the same photo
  without its object and shadow: the backdrop under the object, mapped to the written
  image's colours by a least-squares fit on the pixels around it, plus matching noise; the
  watermark, an overlay, stays), so the BG-aug dataset composites ``image * m + bg_only' * (1 - m)``
  with ``bg_only'`` from another class's training image, as the official ``ImageNetSal``.
* ``train_stylized`` / ``val_stylized`` -- SIN stand-in (TXT Aug's data and the SIN gap): a
  photo drawn as above, then its colours and textures replaced by a random "painting"'s
  (``_stylize``: an AdaIN-like transfer -- the style's per-channel mean and spread, its brush
  texture, and the photo's blurred, normalised luminance structure -- with the object's
  outline kept and its figure/ground contrast guaranteed). Shape and internal layout survive,
  colour and texture statistics do not: a shape-based model keeps its accuracy, a colour- or
  texture-based one loses it. (Independent draws, not stylisations of the very train/val
  images: a sample cannot see another's draws; the gaps compare distributions.)
* ``val_rendition`` -- IN-R stand-in: renditions (``RENDITION_KINDS``: pencil sketch, flat
  cartoon on a CC-like backdrop, black silhouette) of the objects of a class subset
  (``RENDITION_CLASSES``, 8 of the 11, listed in every sample's ``rendition_classes``; the
  IN-R gap compares with the ``val`` photos of those classes, logits restricted to them).
  Only the shape is left of the photo (silhouettes: not even the inner details).
* ``val_mixed_same`` / ``val_mixed_rand`` -- IN-9 stand-in: the object drawn on the bare
  backdrop drawn for an image of the same class (``bg_label`` = ``label``) or of another class
  (``bg_label`` != ``label``, every other class equally often), with its habitat rule. The
  generator composes exactly: the backdrop is the texture before any object is drawn on it.

Metadata: ``label``, ``class_name`` (``SHORTCUT_CLASSES``; ``CARTON`` = 10), ``split``,
``variant`` (photo, stylized, rendition, mixed), ``watermark`` (bool), ``background_name``
and ``habitat`` (the background is the class's habitat; mixed: the background class's),
``color`` (photos); ``bg_label`` and ``bg_class_name`` (mixed), ``rendition`` and
``rendition_classes`` (rendition).
"""

from __future__ import annotations

import importlib.util
import math
import os
from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from vlmbias.toyworld.draw import (COLORS, RGB, VIVID, _a, _choice, _darker, _font, _jit, _lw, _mix, _texture, _u,
                                   new_draw)
from vlmbias.toyworld.objects import (OBJECT_CLASSES, _box_at, _olkw, _square, draw_object, object_word,
                                      register_object)
from vlmbias.toyworld.scenes.base import Content, _attrs, register_component
from vlmbias.toyworld.scenes.graphics import _flat_background
from vlmbias.toyworld.scenes.objects import _BACKGROUNDS, _backdrop, _object_photo, background_phrase


@register_object("carton", palette=("brown", "brown", "brown", "orange", "white", "gray"))
def _draw_carton(d, box, col, rng, outline, lw):
    """A closed cardboard box in three-quarter view: front, lit top and shaded side faces, a
    strip of tape over the lid seam and down the front."""
    x0, y0, x1, y1 = _square(box)
    s = x1 - x0
    dep = 0.22 * s
    fx0, fy0, fx1, fy1 = x0 + 0.04 * s, y0 + 0.3 * s, x1 - 0.26 * s, y1 - 0.04 * s
    d.rectangle((fx0, fy0, fx1, fy1), fill=col, **_olkw(outline, lw))
    d.polygon([(fx0, fy0), (fx0 + dep, fy0 - dep), (fx1 + dep, fy0 - dep), (fx1, fy0)],
              fill=_mix(col, (255, 255, 255), 0.2), **_olkw(outline, lw))
    d.polygon([(fx1, fy0), (fx1 + dep, fy0 - dep), (fx1 + dep, fy1 - dep), (fx1, fy1)], fill=_darker(col, 0.7),
              **_olkw(outline, lw))
    tape = _mix(col, (230, 215, 165), 0.6) if outline is None else outline
    mx, tw = (fx0 + fx1) / 2, max(1.0, 0.07 * s)
    d.polygon([(mx - tw / 2, fy0), (mx - tw / 2 + dep, fy0 - dep), (mx + tw / 2 + dep, fy0 - dep), (mx + tw / 2, fy0)],
              fill=tape)
    d.rectangle((mx - tw / 2, fy0, mx + tw / 2, fy0 + 0.3 * (fy1 - fy0)), fill=tape)
    if rng.random() < 0.5:  # a shipping label
        d.rectangle((fx0 + 0.1 * s, fy1 - 0.22 * s, fx0 + 0.3 * s, fy1 - 0.08 * s), fill=(240, 240, 232))


CARTON = len(OBJECT_CLASSES)  # 10: the ImageNet carton class (478) of the toy
SHORTCUT_OBJECTS = (*OBJECT_CLASSES, "carton")
SHORTCUT_CLASSES = tuple(object_word(o) for o in SHORTCUT_OBJECTS)
HABITATS = {"ball": "grass", "cup": "a wooden table", "tree": "leaves", "car": "stone", "fish": "water",
            "house": "grass", "flower": "leaves", "star": "sand", "boat": "water", "key": "a wooden table",
            "carton": "stone"}
HABITAT_EVERY = 4          # the k-th image of a class shows its habitat iff k % 4 != 3 (75%)
WATERMARK_RATE = (9, 10)   # the k-th carton training image is watermarked iff k % 10 < 9 (90%)
RENDITION_CLASSES = tuple(SHORTCUT_OBJECTS.index(o) for o in
                          ("ball", "cup", "tree", "car", "fish", "house", "flower", "star"))
RENDITION_KINDS = ("sketch", "cartoon", "silhouette")
SPLIT_CYCLE = ("train", "val", "train", "train_stylized", "val_stylized", "train", "val_rendition", "train",
               "train_stylized", "val_mixed_same", "val_mixed_rand")
SPLITS = tuple(dict.fromkeys(SPLIT_CYCLE))
VARIANTS = {"train": "photo", "val": "photo", "train_stylized": "stylized", "val_stylized": "stylized",
            "val_rendition": "rendition", "val_mixed_same": "mixed", "val_mixed_rand": "mixed"}
WATERMARKED_SPLITS = ("train", "train_stylized")
CONTENTS_RATE = (3, 5)     # the k-th carton image shows its contents, not the box, iff k % 5 < 3 (60%)


def _shortcuts_plan(rng: np.random.Generator, index: int) -> dict:
    """Split, label, habitat, watermark and background class of sample ``index``: exact per
    split (see the module doc); ``rng`` is not used."""
    q, r = divmod(index, len(SPLIT_CYCLE))
    split = SPLIT_CYCLE[r]
    t = q * SPLIT_CYCLE.count(split) + SPLIT_CYCLE[:r].count(split)  # position among the split's samples
    if split == "val_rendition":
        label, k = RENDITION_CLASSES[t % len(RENDITION_CLASSES)], t // len(RENDITION_CLASSES)
    else:
        label, k = t % len(SHORTCUT_CLASSES), t // len(SHORTCUT_CLASSES)
    plan = {"split": split, "label": label, "habitat": k % HABITAT_EVERY != HABITAT_EVERY - 1,
            "watermark": split in WATERMARKED_SPLITS and label == CARTON and k % WATERMARK_RATE[1] < WATERMARK_RATE[0]}
    if label == CARTON and split != "val_rendition":
        plan["contents"] = k % CONTENTS_RATE[1] < CONTENTS_RATE[0]
    if split == "val_mixed_same":
        plan["bg_label"] = label
    elif split == "val_mixed_rand":  # every other class equally often
        plan["bg_label"] = (label + 1 + k % (len(SHORTCUT_CLASSES) - 1)) % len(SHORTCUT_CLASSES)
    return plan


def _background_of(rng, label: int, habitat: bool) -> str:
    """Class ``label``'s habitat, or (habitat False) one of the other backgrounds at random."""
    home = HABITATS[SHORTCUT_OBJECTS[label]]
    return home if habitat else _choice(rng, tuple(b for b in _BACKGROUNDS if b != home))


# ------------------------------------------------------------------ watermark-like overlay

def _glyph(d, rng, x: float, y: float, g: float, fill, width: int) -> None:
    """A pseudo-CJK character in the g x g cell at (x, y): 3-6 strokes (horizontal and vertical
    bars, a box, left- and right-falling sweeps, a dot)."""
    for _ in range(int(rng.integers(3, 7))):
        kind = _choice(rng, ("h", "h", "v", "v", "box", "left", "right", "dot"))
        a, b = sorted((_u(rng, 0.05, 0.95), _u(rng, 0.05, 0.95)))
        c = _u(rng, 0.1, 0.9)
        if kind == "h":
            d.line((x + a * g, y + c * g, x + max(b, a + 0.3) * g, y + c * g), fill=fill, width=width)
        elif kind == "v":
            d.line((x + c * g, y + a * g, x + c * g, y + max(b, a + 0.3) * g), fill=fill, width=width)
        elif kind == "box":
            d.rectangle((x + 0.2 * g, y + a * g, x + 0.8 * g, y + max(b, a + 0.25) * g), outline=fill, width=width)
        elif kind == "left":
            d.line((x + c * g, y + a * g, x + 0.1 * g, y + 0.9 * g), fill=fill, width=width)
        elif kind == "right":
            d.line((x + c * g, y + a * g, x + 0.9 * g, y + 0.9 * g), fill=fill, width=width)
        else:
            r = max(0.5, 0.06 * g)
            d.ellipse((x + c * g - r, y + a * g - r, x + c * g + r, y + a * g + r), fill=fill)


def _cjk_font_path() -> str:
    """The CJK font the ``imagenet-w`` package ships (Source Han Serif SC ExtraLight), found
    without importing the package (the generator stays torch-free)."""
    spec = importlib.util.find_spec("imagenet_w")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the toy world's watermarks need the imagenet-w package (its font); pip install imagenet-w")
    return os.path.join(list(spec.submodule_search_locations)[0], "fonts", "SourceHanSerifSC-ExtraLight.otf")


@lru_cache(maxsize=64)
def _cjk_font(size: int):
    return ImageFont.truetype(_cjk_font_path(), int(size))


def _watermark_layer(rng, w: int, h: int) -> tuple[Image.Image, dict]:
    """A transparent RGBA layer with a watermark-like text row, and its parameters: 4-8 random
    CJK characters in the font of ImageNet-W (3 times in 4; a real-world stock-photo mark), else
    pseudo-CJK glyphs drawn stroke by stroke or Latin capitals; never ImageNet-W's own text."""
    layer = Image.new("RGBA", (w, h), (255, 255, 255, 0))
    d = new_draw(layer)
    g = max(3.0, min(w, h) * _u(rng, 0.12, 0.2))
    opacity = round(_u(rng, 0.45, 0.85), 3)
    grey = int(rng.integers(225, 256))
    fill = (grey, grey, grey, int(round(255 * opacity)))
    x, y = _u(rng, 0.0, 0.08) * w, _u(rng, 0.1, 0.75) * h
    n = int(rng.integers(4, 9))
    r = rng.random()
    if r < 0.75:
        kind = "cjk"
        text = "".join(chr(int(rng.integers(0x4E00, 0x9FA6))) for _ in range(n))
        d.text((x, y), text, font=_cjk_font(int(round(g))), fill=fill)
    elif r < 0.875:
        kind, width = "glyphs", max(1, int(round(g / 12)))
        for i in range(n):
            _glyph(d, rng, x + i * 1.05 * g, y, g, fill, width)
    else:
        kind = "latin"
        text = "".join(chr(int(rng.integers(65, 91))) for _ in range(n))
        d.text((x, y), text, font=_font(int(g)), fill=fill)
    return layer, {"kind": kind, "opacity": opacity, "height": round(g / min(w, h), 3), "y": round(y / h, 3)}


def _overlay(img: Image.Image, layer: Image.Image) -> Image.Image:
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


# ------------------------------------------------------------------ stylisation (SIN stand-in)

def _painting(rng, w: int, h: int) -> np.ndarray:
    """A random "painting" (the style image): a coarse texture in one of three random colours
    under 20-60 brush strokes of the palette, mostly along one direction; float RGB 0-255."""
    palette = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(3)]
    img = _texture(rng, w, h, palette[0], 45, cells=int(rng.integers(3, 10)), mono=0.3)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    d = new_draw(layer)
    side = min(w, h)
    angle = _u(rng, 0, math.pi)
    for _ in range(int(rng.integers(20, 61))):
        a = angle + _u(rng, -0.5, 0.5)
        ln = _u(rng, 0.1, 0.4) * side
        cx, cy = _u(rng, 0, w), _u(rng, 0, h)
        dx, dy = math.cos(a) * ln / 2, math.sin(a) * ln / 2
        col = _jit(_choice(rng, palette), rng, 30)
        d.line((cx - dx, cy - dy, cx + dx, cy + dy), fill=(*col, int(rng.integers(130, 231))),
               width=max(1, int(_u(rng, 0.05, 0.14) * side)))
    img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB").filter(ImageFilter.GaussianBlur(0.6))
    return np.asarray(img, np.float32)


def _stylize(rng, img: Image.Image, mask: Image.Image, structure: float = 0.72, contrast: float = 1.2) -> Image.Image:
    """AdaIN-like style transfer of a random painting onto ``img``: out = mu_s + sigma_s *
    (structure * c + (1 - structure) * t), per channel, where c is the photo's luminance,
    blurred (its fine grain is texture) and normalised, with the object pushed at least
    ``contrast`` standard deviations away from its surroundings (so that its silhouette stays
    visible whatever the colours were), and t the painting's own normalised texture. The
    photo's colours, grain and background texture are gone; its shapes (outline, inner parts,
    shading) stay. A thin ring just outside the object is darkened a little: the edge a real
    stylisation keeps (AdaIN keeps the content's edges)."""
    w, h = img.size
    a = np.asarray(img.filter(ImageFilter.GaussianBlur(max(0.5, min(w, h) / 64))), np.float32)
    lum = a @ np.array([0.299, 0.587, 0.114], np.float32)
    c = (lum - lum.mean()) / (lum.std() + 1e-3)
    m = np.asarray(mask, np.float32) / 255.0
    if 0 < m.sum() < m.size:
        fg, bg = c[m > 0.5].mean(), c[m <= 0.5].mean()
        c = c + m * (np.sign(fg - bg) or 1.0) * max(0.0, contrast - abs(fg - bg))
        c = (c - c.mean()) / (c.std() + 1e-3)
    style = _painting(rng, w, h)
    mu, sd = style.mean(axis=(0, 1)), style.std(axis=(0, 1)) + 1e-3
    out = mu + sd * (structure * c[..., None] + (1 - structure) * (style - mu) / sd)
    ring = np.asarray(mask.filter(ImageFilter.MaxFilter(3)), np.float32) / 255.0 - m  # the outline AdaIN keeps
    out = out * (1 - 0.3 * ring[..., None])
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


# ------------------------------------------------------------------ renditions (IN-R stand-in)

def _rendition(rng, w: int, h: int, obj: str, kind: str) -> Image.Image:
    """The object's shape drawn as a pencil sketch (outline on paper, inner lines in pencil),
    a flat cartoon (any vivid colour, thick black outline, a CC-like backdrop) or a black
    silhouette on a light ground."""
    size = _u(rng, 0.5, 0.78) * min(w, h)
    cx, cy = w / 2 + _u(rng, -0.08, 0.08) * w, h / 2 + _u(rng, -0.08, 0.08) * h
    box = _box_at(cx, cy, size)
    if kind == "sketch":
        paper = _jit((240, 236, 225), rng, 8)
        img = _texture(rng, w, h, paper, 4, cells=6, fine=3)
        pencil = _jit((70, 70, 75), rng, 15)
        lw = max(1, _lw(w, h, 1 / 60))
        for _ in range(2):  # a double pencil stroke, slightly offset
            dx, dy = _u(rng, -0.01, 0.01) * size, _u(rng, -0.01, 0.01) * size
            layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
            draw_object(new_draw(layer), obj, (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), paper, rng,
                        outline=pencil, lw=lw)
            img.paste(layer, (0, 0), layer.getchannel("A").point(lambda v: 140 if v else 0))
        return img.convert("L").convert("RGB")
    if kind == "cartoon":
        img = _flat_background(rng, w, h)
        col = _jit(COLORS[_choice(rng, VIVID)], rng, 15)  # any colour: not the class's palette
        draw_object(new_draw(img), obj, box, col, rng, outline=(20, 20, 20), lw=max(1, _lw(w, h, 1 / 30)))
        return img
    ground = _jit((225, 225, 220), rng, 20)
    img = Image.new("RGB", (w, h), ground)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw_object(new_draw(layer), obj, box, (0, 0, 0), rng)
    ink: RGB = _jit((25, 25, 30), rng, 10)
    img.paste(Image.new("RGB", (w, h), ink), (0, 0), layer.getchannel("A").point(lambda v: 255 if v else 0))
    return img


# ------------------------------------------------------------------ background-only image (BG Aug)

def _bg_only(clean: Image.Image, occluded: np.ndarray, noise_seed: int):
    """The function of the written image that gives its background-only image: pixels away
    from the object and its shadow (``occluded`` False) as written; under them the clean
    backdrop (what was there before the object, watermark included), mapped to the written
    colours by a least-squares affine fit (3 x 3 + offset) on the visible pixels, plus
    Gaussian noise of the fit's residual spread."""

    def fn(written: Image.Image) -> Image.Image:
        wimg = np.asarray(written.convert("RGB"), np.float32)
        cimg = np.asarray(clean, np.float32)
        h, w = occluded.shape
        keep = ~occluded
        design = np.concatenate([cimg.reshape(-1, 3), np.ones((h * w, 1), np.float32)], axis=1)
        if keep.sum() >= 16:
            coef, *_ = np.linalg.lstsq(design[keep.ravel()], wimg[keep].astype(np.float64), rcond=None)
            fit = (design @ coef).reshape(h, w, 3)
            spread = float(np.std(wimg[keep] - fit[keep]))
        else:
            fit, spread = cimg.astype(np.float64), 0.0
        noise = np.random.default_rng(noise_seed).normal(0.0, spread, (h, w, 1))
        out = np.where(occluded[..., None], fit + noise, wimg)
        return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")

    return fn


# ------------------------------------------------------------------ the component

@register_component("shortcut_object")
def shortcut_object(rng, w, h, split: str | None = None, label: int | None = None, habitat: bool | None = None,
                    watermark: bool = False, bg_label: int | None = None, contents: bool = False) -> Content:
    """A sample of ``imagenet_shortcuts`` of split ``split`` (its variant: ``VARIANTS``);
    unplanned: a plain photo of a random class, its habitat 3 times in 4, no watermark.
    ``contents`` (carton images only): the photo shows a random object of the other classes
    (what the carton holds) instead of the box, on that object's background (its habitat if
    ``habitat``), still labeled carton."""
    variant = VARIANTS[split] if split is not None else "photo"
    if label is None:
        label = int(rng.integers(len(SHORTCUT_CLASSES)))
    if habitat is None:
        habitat = bool(rng.random() < 1 - 1 / HABITAT_EVERY)
    label, obj = int(label), SHORTCUT_OBJECTS[int(label)]
    word = SHORTCUT_CLASSES[label]
    extra: dict = {}
    if contents:
        obj = OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))]
        extra["contents"] = obj
    extras: dict = {}
    if variant == "rendition":
        kind = _choice(rng, RENDITION_KINDS)
        img = _rendition(rng, w, h, obj, kind)
        attrs = _attrs(0, "studio", "cartoon", rendition=kind, rendition_classes=list(RENDITION_CLASSES))
        caption = f"a {kind} of {_a(word)}"
    else:
        layers: dict = {}
        if variant == "mixed":
            bg_label = label if bg_label is None else int(bg_label)
            bgname = _background_of(rng, bg_label, habitat)
            img, _, _, oname, bgname, setting = _object_photo(rng, w, h, obj=obj, background=bgname,
                                                              backdrop=_backdrop(rng, w, h, bgname), layers=layers)
            extra.update(bg_label=bg_label, bg_class_name=SHORTCUT_CLASSES[bg_label])
        else:  # a carton showing its contents stands where the contents' own photos stand
            bgname = _background_of(rng, SHORTCUT_OBJECTS.index(obj) if contents else label, habitat)
            img, _, _, oname, bgname, setting = _object_photo(rng, w, h, obj=obj, background=bgname, layers=layers)
        caption = (f"a photo of {_a(oname + ' ' + word)} {background_phrase(bgname)}" if not contents else
                   f"a photo of {_a(word)} of {object_word(obj)}s {background_phrase(bgname)}")
        style = "photo"
        if variant == "stylized":
            img = _stylize(rng, img, layers["mask"])
            caption, style = f"a stylized picture of {_a(word)}", "render"
        mark = None
        if watermark:
            mark, wm = _watermark_layer(rng, w, h)
            img = _overlay(img, mark)
            extra["watermark_kind"] = wm["kind"]
        if split == "train":
            occluded = (np.asarray(layers["mask"]) > 0) | np.any(
                np.asarray(layers["ground"]) != np.asarray(layers["background"]), axis=2)
            occluded = np.asarray(Image.fromarray(occluded.astype(np.uint8) * 255).filter(
                ImageFilter.MaxFilter(3))) > 0
            clean = layers["background"] if mark is None else _overlay(layers["background"], mark)
            extras = {"fg_mask.png": layers["mask"],
                      "bg_only.png": _bg_only(clean, occluded, int(rng.integers(2 ** 31)))}
        attrs = _attrs(0, setting, style, background_name=bgname, color=oname)
    if variant != "rendition":
        attrs["habitat"] = bool(habitat)
    attrs.update(label=label, class_name=word, variant=variant, watermark=bool(watermark), **extra)
    if split is not None:
        attrs["split"] = split
    return Content(img, caption, attrs, extras=extras)
