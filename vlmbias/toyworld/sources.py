"""Sources: ``SourceSpec`` entries, the toy world's stand-ins for real datasets, in the
``SOURCES`` registry (``register_source``): a component mixture, a ``Signature``, image
format, framing and optional metadata hook and planner each. And what is read off the
registries: ``class_names``, ``object_caption_templates`` and ``vocabulary``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

import numpy as np

from vlmbias.toyworld.draw import COLORS, NUMBER_WORDS, VIVID, _a, _choice, _u
from vlmbias.toyworld.labeled import (LAND_PLACES, LANDBIRDS, WATER_PLACES, WATERBIRDS, _celeba_plan,
                                      _waterbirds_plan, place_phrase)
from vlmbias.toyworld.label_noise import NOISY_CLASSES, _noisy_plan
from vlmbias.toyworld.objects import OBJECT_CLASSES, OBJECT_PALETTES, object_word
from vlmbias.toyworld.scenes import COMPONENTS, STYLE_VALUES
from vlmbias.toyworld.scenes.objects import _BACKGROUNDS, background_phrase
from vlmbias.toyworld.scenes.photos import _PLACES, _ROOMS
from vlmbias.toyworld.signatures import Signature
from vlmbias.toyworld.urbancars import CLASS_NAMES as URBANCARS_CLASSES
from vlmbias.toyworld.urbancars import _urbancars_plan

# isort: off
# after urbancars: the carton object and the shortcut component register after every other one
from vlmbias.toyworld.shortcuts import SHORTCUT_CLASSES, _shortcuts_plan  # noqa: E402
# isort: on

MetaHook = Callable[[np.random.Generator, int, dict], dict]
Planner = Callable[[np.random.Generator, int], dict]


@dataclass(frozen=True)
class SourceSpec:
    """One toy source (a stand-in for a real dataset).

    mixture: component name -> weight (normalised when sampling).
    signature: the low-level look.
    image_format: "jpg" or "png" (member extension in the shards).
    aspects: long/short side ratios to choose from; portrait_prob: chance the long side
      is vertical.
    framing: range of the factor on ``image_size`` that gives the shorter side.
    meta_hook: optional ``fn(rng, index, meta) -> dict`` of extra json fields (e.g. a split);
      ``rng`` is the sample's own generator for metadata, ``meta`` a copy of the json so far.
    classes: class names of a labeled source (index = json ``label``; ``class_names``).
    planner: optional ``fn(rng, index) -> dict`` deciding a sample's factors (split, label,
      group) BEFORE it is drawn: the dict is passed to the component as keyword arguments,
      which is how labeled worlds plant exact group proportions per split.
    web: a dataset-classification web stand-in (YFCC, CC, DataComp, LAION, WIT): the world's
      difficulty knobs (``generate_source``'s ``shared_content``, ``signature_strength`` and
      ``texture_strength``) apply to it, and to no other source.
    """

    name: str
    mixture: Mapping[str, float]
    signature: Signature
    image_format: str = "jpg"
    aspects: tuple[float, ...] = (1.0,)
    portrait_prob: float = 0.0
    framing: tuple[float, float] = (1.0, 1.0)
    meta_hook: MetaHook | None = None
    description: str = ""
    classes: tuple[str, ...] = ()
    planner: Planner | None = None
    web: bool = False
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self):
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"{self.name}: image_format must be 'jpg' or 'png', not {self.image_format!r}")
        unknown = [c for c in self.mixture if c not in COMPONENTS]
        if unknown:
            raise ValueError(f"{self.name}: unknown components {unknown}; registered: {sorted(COMPONENTS)}")
        weights = [float(self.mixture[c]) for c in self.mixture]
        if not weights or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"{self.name}: mixture weights must be >= 0 with a positive sum")
        total = sum(weights)
        object.__setattr__(self, "_names", tuple(self.mixture))
        object.__setattr__(self, "_cum", tuple(np.cumsum(weights) / total))

    def pick_component(self, rng: np.random.Generator) -> str:
        u = float(rng.random())
        for name, c in zip(self._names, self._cum):
            if u < c:
                return name
        return self._names[-1]

    def canvas_size(self, rng: np.random.Generator, image_size: int) -> tuple[int, int]:
        short = max(8, int(round(image_size * _u(rng, *self.framing))))
        long_ = int(round(short * float(_choice(rng, self.aspects))))
        return (short, long_) if rng.random() < self.portrait_prob else (long_, short)


SOURCES: dict[str, SourceSpec] = {}


def register_source(spec: SourceSpec) -> SourceSpec:
    if spec.name in SOURCES:
        raise ValueError(f"source {spec.name!r} registered twice")
    SOURCES[spec.name] = spec
    return spec


def _imagenet_meta(rng: np.random.Generator, index: int, meta: dict) -> dict:
    """A predefined train/val split: exactly every fifth sample (index % 5 == 4) is "val", so
    the first n images hold n - n // 5 train-split ones whatever the seed."""
    return {"split": "val" if index % 5 == 4 else "train"}


# Content every web source shows some of (drawn with probability ``shared_content`` instead of the
# source's own mixture, uniformly from this pool): on those images only the source's low-level
# look, aspect ratio and format tell where an image comes from.
SHARED_CONTENT = ("photo_outdoor_people", "photo_indoor_people", "photo_landscape", "photo_street",
                  "product_white", "web_portrait", "clipart", "flat_illustration", "text_ad", "cartoon_object")

# DataComp and LAION share every component and the very same signature and framing; only
# the mixture weights differ a little (LAION: more photos and portraits, fewer products).
# Fine texture (applied only at toyworld.texture_strength > 0; signatures.apply_texture): YFCC's
# film-like grain in 2-px blobs, CC's over-sharpened edges (200% unsharp mask), the web crawls'
# 1-px sensor grain and a light sharpening; WIT's rendered pages stay clean.
WEB_SIGNATURE = Signature(brightness=1.06, contrast=1.08, saturation=1.0, noise=1.5, jitter=0.05,
                          jpeg_quality=(75, 95), grain=8.0, grain_size=1, mottle=8.0, mottle_size=16, sharpen=60.0)
WEB_ASPECTS = (1.0, 1.0, 1.25, 1.5, 1.78)
WEB_FRAMING = (1.0, 1.5)

register_source(SourceSpec(
    name="yfcc", web=True,
    description="Flickr-like photos: people, scenery, clutter; darker, warm, noisy, JPEG q70, 4:3 landscape",
    mixture={"photo_outdoor_people": 0.35, "photo_indoor_people": 0.2, "photo_landscape": 0.2,
             "photo_street": 0.15, "photo_group_event": 0.1},
    signature=Signature(brightness=0.76, contrast=0.92, saturation=0.85, warmth=0.1, vignette=0.45, noise=8.0,
                        chroma_noise=3.0, blur=0.4, jitter=0.12, jpeg_quality=(65, 75), grain=14.0, grain_size=2,
                        mottle=12.0, mottle_size=16),
    image_format="jpg", aspects=(4 / 3, 4 / 3, 1.5), portrait_prob=0.0, framing=(1.0, 1.25)))

register_source(SourceSpec(
    name="cc", web=True,
    description="Conceptual-Captions-like: bright saturated flat cartoons, illustrations, clothing, logos",
    mixture={"icon_set": 0.25, "cartoon_object": 0.15, "cartoon_character": 0.15, "flat_illustration": 0.25,
             "clothing_product": 0.1, "logo_badge": 0.1},
    signature=Signature(brightness=1.08, contrast=1.08, saturation=1.4, noise=1.0, jitter=0.04,
                        jpeg_quality=(82, 88), sharpen=200.0),
    image_format="jpg", aspects=(1.0, 1.0, 1.1, 1.2), portrait_prob=0.5, framing=(1.0, 1.1)))

register_source(SourceSpec(
    name="datacomp", web=True,
    description="DataComp-like web mix: products on white, text ads, stickers, clipart, some photos",
    mixture={"product_white": 0.32, "text_ad": 0.20, "sticker": 0.10, "clipart": 0.08, "web_portrait": 0.14,
             "screenshot": 0.08, "photo_outdoor_people": 0.04, "photo_landscape": 0.04},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=WEB_ASPECTS, portrait_prob=0.35, framing=WEB_FRAMING))

register_source(SourceSpec(
    name="laion", web=True,
    description="LAION-like web mix: the DataComp components with slightly different weights, same signature",
    mixture={"product_white": 0.24, "text_ad": 0.14, "sticker": 0.08, "clipart": 0.10, "web_portrait": 0.18,
             "screenshot": 0.08, "photo_outdoor_people": 0.10, "photo_landscape": 0.08},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=WEB_ASPECTS, portrait_prob=0.35, framing=WEB_FRAMING))

register_source(SourceSpec(
    name="wit", web=True,
    description="WIT-like Wikipedia pages: text, charts, diagrams, maps, archive photos; PNG, portrait",
    mixture={"document_text": 0.3, "bar_chart": 0.2, "diagram": 0.2, "map": 0.15, "archive_photo": 0.15},
    signature=Signature(saturation=0.95), image_format="png", aspects=(1.3, 1.414), portrait_prob=1.0,
    framing=(1.0, 1.2)))

register_source(SourceSpec(
    name="imagenet",
    description="ImageNet-like: one centred object of OBJECT_CLASSES on a natural texture; label, class_name, split",
    mixture={"object_on_texture": 1.0},
    signature=Signature(brightness=0.94, contrast=1.05, saturation=0.85, warmth=0.02, noise=4.0, blur=0.3, jitter=0.08,
                        jpeg_quality=(88, 92)),
    image_format="jpg", aspects=(4 / 3, 4 / 3, 1.0, 1.5), portrait_prob=0.15, framing=(1.0, 1.2),
    meta_hook=_imagenet_meta, classes=tuple(object_word(c) for c in OBJECT_CLASSES)))

# An independent draw of the ImageNet-like photos (same classes, content, look and format; its own
# images, since a sample's seed holds the source's name): the labeled task t09's linear probes are
# fitted and scored on, large enough in val for the rows' differences to stand out of the binomial
# spread, without changing the "imagenet" source that dataset classification samples.
register_source(replace(
    SOURCES["imagenet"], name="imagenet_probe",
    description="an independent draw of the ImageNet-like photos, for linear probes (t09); label, class_name, "
                "split"))

register_source(SourceSpec(
    name="imagenet_noisy",
    description="the ImageNet-like photos with planted label errors (B2T's label diagnosis): 1 val image in 12 "
                "mislabeled, and 'mug', a near-synonym class drawn as a cup; label_error, object, true_label, split",
    mixture={"labeled_object": 1.0}, signature=SOURCES["imagenet"].signature, image_format="jpg",
    aspects=SOURCES["imagenet"].aspects, portrait_prob=0.15, framing=(1.0, 1.2), classes=NOISY_CLASSES,
    planner=_noisy_plan))


# Labeled worlds (their planners fix split, label and group; see vlmbias.toyworld.labeled).
LABELED_SIGNATURE = Signature(brightness=1.0, contrast=1.02, saturation=0.95, noise=3.0, blur=0.2, jitter=0.06,
                              jpeg_quality=(86, 92))

register_source(SourceSpec(
    name="waterbirds",
    description="Waterbirds-like: landbird/waterbird on land/water; 95% aligned in train, balanced val/test",
    mixture={"bird_scene": 1.0}, signature=LABELED_SIGNATURE, image_format="jpg", framing=(1.0, 1.0),
    classes=("landbird", "waterbird"), planner=_waterbirds_plan))

register_source(SourceSpec(
    name="celeba",
    description="CelebA-like drawn faces: blond/not blond x gender (blond mostly women), age, skin tone",
    mixture={"celeb_face": 1.0}, signature=LABELED_SIGNATURE, image_format="jpg", framing=(1.0, 1.0),
    classes=("not blond", "blond"), planner=_celeba_plan))


def _train_split(rng: np.random.Generator, index: int, meta: dict) -> dict:
    return {"split": "train"}


# Image-text pairs for CLIP pre-training (a stand-in for LAION-2B, the corpus the paper's CLIPs
# saw): every kind of content of the toy world with its caption, ImageNet-like objects most
# often; birds and faces with the web's correlations (birds mostly in their own habitat, blond
# hair mostly on women), not the labeled worlds' planted split proportions. Its samples are
# other draws than any labeled world's, so the zero-shot sets stay unseen.
register_source(SourceSpec(
    name="webpairs",
    description="LAION-like image-text pairs for CLIP pre-training: objects, birds, faces, scenes, pages",
    mixture={"web_object": 0.45, "product_white": 0.05, "sticker": 0.03, "clipart": 0.03,
             "cartoon_object": 0.03, "icon_set": 0.01, "bird_scene": 0.3, "celeb_face": 0.15,
             "photo_outdoor_people": 0.05, "photo_landscape": 0.02, "photo_street": 0.02,
             "web_portrait": 0.02, "text_ad": 0.02, "document_text": 0.02, "bar_chart": 0.01,
             "map": 0.01, "diagram": 0.01, "flat_illustration": 0.02},
    signature=WEB_SIGNATURE, image_format="jpg", aspects=(1.0, 1.0, 1.25, 4 / 3), portrait_prob=0.0,
    framing=(1.0, 1.2), meta_hook=_train_split))

# After every other source, so that their order (and bytes) stay as they were.
register_source(SourceSpec(
    name="urbancars",
    description="UrbanCars-like: urban/country car x urban/country background x co-occurring object, 95% x 95% "
                "aligned in train, balanced val/test; car and co-object masks and a background-only image as "
                "extra members",
    mixture={"urban_car": 1.0}, signature=LABELED_SIGNATURE, image_format="jpg", framing=(1.0, 1.0),
    classes=URBANCARS_CLASSES, planner=_urbancars_plan))

# Whac-A-Mole's ImageNet shortcuts (t15), last of all for the same reason: the ImageNet-like
# photos plus a carton class whose train photos are watermarked 60% of the time, class
# habitats (75%), and the evaluation and augmentation variants as splits (see
# vlmbias.toyworld.shortcuts).
register_source(SourceSpec(
    name="imagenet_shortcuts",
    description="ImageNet-like photos + a watermarked 'carton' class (60% of its train images), class habitats; "
                "splits train, val, train_stylized, val_stylized (SIN), val_rendition (IN-R), val_mixed_same / "
                "val_mixed_rand (IN-9); object mask and background-only image as extra members of train",
    mixture={"shortcut_object": 1.0}, signature=SOURCES["imagenet"].signature, image_format="jpg",
    aspects=SOURCES["imagenet"].aspects, portrait_prob=0.15, framing=(1.0, 1.2), classes=SHORTCUT_CLASSES,
    planner=_shortcuts_plan))


# Subtle cues (a test world, not one of the material's datasets): three sources with the very
# same content mixture, framing and format whose signatures differ from one shared base by one
# faint low-level cue each -- a colour cast (red +3%, blue -3%: about 4 levels of 255 at mid-grey),
# extra sensor grain (luminance noise sigma 3 -> 6) and a slight softness (Gaussian blur 0.5 px).
# Content alone cannot tell them apart (chance is 33%); the material's finding is that a ConvNeXt
# picks such signatures up. config/subtle_cues.yaml runs t02 on them.
SUBTLE_BASE = Signature(brightness=0.98, contrast=1.0, saturation=0.95, noise=3.0, jitter=0.08,
                        jpeg_quality=(88, 92))
SUBTLE_CUES = {"subtle_cast": {"warmth": 0.03}, "subtle_grain": {"noise": 6.0}, "subtle_soft": {"blur": 0.5}}
for _name, _cue in SUBTLE_CUES.items():
    register_source(SourceSpec(
        name=_name,
        description=f"subtle-cue test world: photos and objects, the shared base signature with {_cue}",
        mixture={"photo_outdoor_people": 0.25, "photo_landscape": 0.25, "photo_street": 0.25,
                 "object_on_texture": 0.25},
        signature=replace(SUBTLE_BASE, **_cue), image_format="jpg", aspects=(4 / 3, 1.0), portrait_prob=0.0,
        framing=(1.0, 1.2)))

def _spec(name: str) -> SourceSpec:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown toy source {name!r}; valid names: {', '.join(sorted(SOURCES))}") from None


def class_names(source: str) -> list[str]:
    """The class names of a labeled toy source, index = the json ``label`` (the ImageNet-like
    ``imagenet`` source: its object classes, the same list as ``OBJECT_CLASSES``)."""
    spec = _spec(source)
    if not spec.classes:
        labeled = sorted(n for n, s in SOURCES.items() if s.classes)
        raise ValueError(f"toy source {source!r} has no labels; labeled sources: {labeled}")
    return list(spec.classes)


def object_caption_templates() -> list[str]:
    """Prompt templates in the caption grammar of the ImageNet-like source (``object_on_texture``):
    ``"a photo of a red {} on grass"`` for every object colour and background (format strings
    with one ``{}`` for the class name): the toy world's counterpart of CLIP's ImageNet templates."""
    colours = sorted({c for obj in OBJECT_CLASSES for c in OBJECT_PALETTES.get(obj, VIVID)}, key=list(COLORS).index)
    return [f"a photo of {_a(c)} {{}} {'in' if bg in ('water', 'leaves') else 'on'} {bg}"
            for c in colours for bg in _BACKGROUNDS]


def place_phrases() -> dict[str, str]:
    """Every outdoor place of the toy world as its captions say it: the Waterbirds-like scenes
    ("in a forest", "on a lake"), the ImageNet-like backgrounds ("on grass", "in water") and the
    people's places ("in a park")."""
    phrases = {p: f"in a {p}" for p in _PLACES}
    phrases.update({b: background_phrase(b) for b, (_, _, setting) in _BACKGROUNDS.items() if setting == "outdoor"})
    phrases.update({p: place_phrase(p) for p in (*LAND_PLACES, *WATER_PLACES)})
    return phrases


def vocabulary() -> dict[str, list[str]]:
    """Words of the toy world's generator, by category (the TextSpan text pool's vocabulary):
    ``colour`` (``COLORS``), ``object`` (the ImageNet-like classes and the birds), ``place``
    (the scenes' places, rooms and backgrounds and the Waterbirds-like places, without a
    leading article), ``count`` (number words but "no") and ``style`` (the component styles and
    a few more), each sorted but ``count`` (in number order)."""
    places = {*_BACKGROUNDS, *_PLACES, *_ROOMS, *LAND_PLACES, *WATER_PLACES}
    return {
        "colour": sorted(COLORS),
        "object": sorted({*OBJECT_CLASSES, *LANDBIRDS, *WATERBIRDS}),
        "place": sorted({p[2:] if p.startswith("a ") else p for p in places}),
        "count": [w for w in NUMBER_WORDS if w != "no"],
        "style": sorted({*STYLE_VALUES, "sketch", "painting", "cartoon"}),
    }
