"""Procedural "toy world": small synthetic stand-ins for real image(-text) datasets.

The toy world lets every rule of the workflow run without downloading anything. Each
*source* (a stand-in for one real dataset) is written as raw WebDataset tar shards in
the layout img2dataset produces: for every sample ``KEY.jpg`` (or ``KEY.png``), ``KEY.txt``
(the caption) and ``KEY.json`` (metadata). Sources carry *planted* biases, so the
dataset-classification experiment of Liu & He has a known answer:

* a **content mix** -- which scenes a source shows (people and clutter for ``yfcc``,
  flat cartoons for ``cc``, products on white for ``datacomp``, document pages for
  ``wit``, one centred object for ``imagenet``), and
* a **low-level signature** -- palette, brightness, contrast, saturation, noise, blur,
  JPEG quality or PNG, aspect ratio and framing; and, when the world's ``texture_strength``
  is set, a **fine texture** (grain, mottling, sharpening) that blur and low resolution
  remove and colour jitter leaves (``signatures.apply_texture``).

``laion`` and ``datacomp`` draw from the same component generators, with slightly
different mixture weights and the very same signature, so that pair is hard to tell
apart (in the paper every combination holding both is the hardest) while every other
pair is easy.

The package is a set of registries so that new worlds are added by adding entries:

* ``OBJECT_DRAWERS`` -- object shapes drawn into a box (``register_object``; ``objects``);
* ``COMPONENTS`` -- content generators ``fn(rng, width, height) -> Content``
  (``register_component``; ``scenes`` and ``labeled``);
* ``SOURCES`` -- ``SourceSpec`` entries: component mixture, ``Signature``, image format,
  framing, and an optional metadata hook (``register_source``; ``sources``).

Determinism: sample ``index`` of source ``name`` is drawn from its own generator seeded
with ``(seed, crc32(name), index)``, so a sample does not depend on how samples are split
over shards, and the same seed gives byte-identical tar files.

Modules, each importing only those above it:

* ``draw`` -- colours, random and text helpers, fonts, ``new_draw`` and drawing primitives;
* ``objects`` -- the object registry, its drawers and ``OBJECT_CLASSES``;
* ``scenes`` -- the scene components, by kind (photos, graphics, web, documents, objects);
* ``labeled`` -- the labeled worlds (Waterbirds-like, CelebA-like) and their planners;
* ``label_noise`` -- the ImageNet-like set with planted label errors;
* ``urbancars`` -- the UrbanCars-like world (car, background, co-occurring object; masks as
  extra members) and its planner;
* ``shortcuts`` -- the ImageNet-like set with Whac-A-Mole's shortcuts (``imagenet_shortcuts``: a
  watermarked ``carton`` class, class habitats; stylised, rendition and mixed-background
  splits; object masks and background-only images as extra members) and its planner;
* ``signatures`` -- ``Signature``, ``apply_signature`` and ``apply_texture``;
* ``sources`` -- the ``SOURCES`` registry and what is read off it (class names, prompt
  templates, vocabulary);
* ``generate`` -- rendering one sample and writing a source's shards.

Importing the package registers every object, component and source, always in the same
order (``SourceSpec.pick_component`` walks a mixture in its order).
"""

from vlmbias.toyworld.draw import COLORS, NUMBER_WORDS, article, new_draw
from vlmbias.toyworld.generate import generate_source, render, sample_seed
from vlmbias.toyworld.labeled import AGES, LAND_PLACES, LANDBIRDS, SKIN_TONES, WATER_PLACES, WATERBIRDS
from vlmbias.toyworld.objects import (OBJECT_CLASSES, OBJECT_DRAWERS, draw_object, draw_photo_object, object_word,
                                      register_object)
from vlmbias.toyworld.scenes import COMPONENTS, PEOPLE_VALUES, SETTING_VALUES, STYLE_VALUES, Content, register_component
from vlmbias.toyworld.signatures import Signature, apply_signature, apply_texture
from vlmbias.toyworld.sources import (SOURCES, SourceSpec, class_names, object_caption_templates, place_phrases,
                                      register_source,
                                      vocabulary)

__all__ = [
    "AGES",
    "COLORS",
    "COMPONENTS",
    "LANDBIRDS",
    "LAND_PLACES",
    "NUMBER_WORDS",
    "OBJECT_CLASSES",
    "OBJECT_DRAWERS",
    "PEOPLE_VALUES",
    "SETTING_VALUES",
    "SKIN_TONES",
    "SOURCES",
    "STYLE_VALUES",
    "WATERBIRDS",
    "WATER_PLACES",
    "Content",
    "Signature",
    "SourceSpec",
    "apply_signature",
    "apply_texture",
    "article",
    "class_names",
    "draw_object",
    "draw_photo_object",
    "generate_source",
    "new_draw",
    "object_caption_templates",
    "object_word",
    "place_phrases",
    "register_component",
    "register_object",
    "register_source",
    "render",
    "sample_seed",
    "vocabulary",
]
