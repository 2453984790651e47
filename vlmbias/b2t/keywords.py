"""B2T's keywords, their CLIP scores, subgroup accuracies and bias tags, as the official code
computes them (research notes §1.1, steps 5-8; §4 for YAKE).

* Keywords of class c: YAKE (n = 3, dedup_lim = 0.9, top 20, lan "en") on the captions of the
  images of class c the classifier gets wrong, joined with single spaces; kept in YAKE's order.
* Score of a keyword a: 100 x (mean cos(a, x) over the class's wrong images - mean over its
  correct ones), with L2-normalised image embeddings and the text "a photo of a {a}".
* Subgroup accuracy of a: the accuracy over every image of the class whose caption holds the
  keyword as a whole word (case-insensitive; escaped here, the official code is not).
* Tag: "" for a negative score; "M" (majority bias) when the keyword also scores positive in
  another class's list; else "S" (spurious correlation).
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
import yake

PROMPT = "a photo of a {}"


def extract_keywords(captions: Sequence[str], n: int = 3, dedup_lim: float = 0.9, top: int = 20,
                     lan: str = "en") -> list[str]:
    """YAKE's keywords of the captions joined with single spaces, most relevant first."""
    text = " ".join(c.strip() for c in captions if c and c.strip())
    if not text:
        return []
    extractor = yake.KeywordExtractor(lan=lan, n=n, dedup_lim=dedup_lim, top=top)
    return [k for k, _ in extractor.extract_keywords(text)]


def clip_scores(wrong: torch.Tensor, correct: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """[K]: 100 x (mean cos over the wrong images - mean cos over the correct ones) per text."""
    texts = F.normalize(texts.float(), dim=-1)

    def mean_sim(images: torch.Tensor) -> torch.Tensor:
        if len(images) == 0:
            return torch.zeros(len(texts))
        return (100.0 * F.normalize(images.float(), dim=-1) @ texts.T).mean(0)

    return mean_sim(wrong) - mean_sim(correct)


def holds(caption: str, keyword: str) -> bool:
    """Whether the caption holds the keyword as a whole word or phrase (case-insensitive)."""
    return re.search(rf"(?<!\w){re.escape(keyword)}(?!\w)", caption, flags=re.IGNORECASE) is not None


def subgroup_accuracy(keyword: str, captions: Sequence[str], correct: Sequence[bool]) -> tuple[float | None, int]:
    """(accuracy, number of images) over the images whose caption holds the keyword (None: none)."""
    hits = [ok for cap, ok in zip(captions, correct) if holds(cap, keyword)]
    return (sum(hits) / len(hits) if hits else None), len(hits)


def bias_tags(scores: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, str]]:
    """Per class, per keyword: "" (score < 0), "M" (positive in another class too), "S"."""
    tags = {}
    for cls, kws in scores.items():
        others = [o for o in scores if o != cls]
        tags[cls] = {k: "" if s < 0 else ("M" if any(scores[o].get(k, -1.0) >= 0 for o in others) else "S")
                     for k, s in kws.items()}
    return tags
