"""Selection bias as composition (t10): who and what a dataset holds, and who it leaves out.

In the style of the material's selection-bias table ("dark-skinned females only make up 7.4%"):
per dataset, the share of each value of each group attribute found in the json metadata of its
sampled images (a seeded uniform sample, so an unbiased estimate of the raw composition), and
the most under-represented group, for single attributes and for pairs of attributes
(intersectional groups). Values that never occur cannot be seen in the data; the table lists
the values present and says so.
"""

from __future__ import annotations

import itertools
import json
from typing import Iterable

import pandas as pd

# Fields img2dataset writes that are not group attributes.
NON_GROUP_FIELDS = {"key", "url", "caption", "status", "error_message", "width", "height",
                    "original_width", "original_height", "exif", "sha256", "md5", "source",
                    "dataset", "split", "source_shard", "source_key", "label", "content",
                    "similarity", "punsafe", "pwatermark", "LICENSE", "NSFW"}
MAX_VALUES = 20


def metadata_frame(index: pd.DataFrame) -> pd.DataFrame:
    """One row per sampled image, one column per metadata field."""
    return pd.DataFrame.from_records([json.loads(m) if isinstance(m, str) and m else {}
                                      for m in index["metadata"]])


def group_attributes(meta: pd.DataFrame, requested: Iterable[str] | None = None) -> list[str]:
    """The requested attributes, or every categorical field (strings, at most MAX_VALUES
    values) that is not a known non-group field."""
    if requested:
        return [a for a in requested if a in meta.columns]
    out = []
    for col in meta.columns:
        if col in NON_GROUP_FIELDS:
            continue
        values = meta[col].dropna()
        if len(values) and values.map(lambda v: isinstance(v, str)).all() and values.nunique() <= MAX_VALUES:
            out.append(col)
    return sorted(out)


def shares(meta: pd.DataFrame, attrs: list[str], universe: list[tuple] | None = None) -> pd.DataFrame:
    """Share (%) of every value combination of ``attrs`` (missing values count as 'unknown');
    combinations in ``universe`` that do not occur get a zero row."""
    keys = meta[attrs].fillna("unknown").astype(str)
    counts = keys.value_counts()
    if universe:
        full = sorted(set(map(tuple, counts.index)) | set(universe))
        counts = counts.reindex(pd.MultiIndex.from_tuples(full, names=attrs), fill_value=0)
    counts = counts.rename("count").reset_index()
    counts["share"] = counts["count"] / max(len(meta), 1) * 100.0
    counts["group"] = counts[attrs].apply(lambda r: " & ".join(f"{a}={r[a]}" for a in attrs), axis=1)
    return counts.sort_values(["share", "group"], ascending=[False, True])[["group", "count", "share"]]


def composition_table(indexes: dict[str, pd.DataFrame], attributes: list[str] | None = None,
                      pairs: bool = True) -> pd.DataFrame:
    """Rows: dataset x (attribute or attribute pair): value shares, least represented group.
    The values of an attribute are those found in any of the datasets, so a group present
    elsewhere but absent from a dataset shows with 0%."""
    metas = {d: metadata_frame(ix) for d, ix in indexes.items()}
    universe: dict[tuple, set] = {}
    for meta in metas.values():
        attrs = group_attributes(meta, attributes)
        combos = [(a,) for a in attrs] + (list(itertools.combinations(attrs, 2)) if pairs else [])
        for combo in combos:
            universe.setdefault(combo, set()).update(
                map(tuple, meta[list(combo)].fillna("unknown").astype(str).itertuples(index=False)))
    rows = []
    for dataset, meta in metas.items():
        attrs = group_attributes(meta, attributes)
        if not attrs:
            rows.append({"dataset": dataset, "attributes": "(none in metadata)", "n_images": len(meta),
                         "shares": "", "least_group": "", "least_share": float("nan"),
                         "description": "no group attributes found in the json metadata"})
            continue
        combos = [(a,) for a in attrs] + (list(itertools.combinations(attrs, 2)) if pairs else [])
        for combo in combos:
            # single attributes list absent values; pairs only the pairs seen in some dataset
            s = shares(meta, list(combo), sorted(universe[combo]))
            least = s.sort_values(["share", "group"]).iloc[0]
            n, share = int(least["count"]), float(least["share"])
            if n == 0:
                text = (f"{least['group']} is absent (0 of {len(meta)} sampled images), though present "
                        f"in another dataset")
            elif len(s) == 1:
                text = f"every sampled image has {least['group']}"
            else:
                text = f"{least['group']} only make up {share:.1f}% ({n} of {len(meta)} sampled images)"
            rows.append({
                "dataset": dataset, "attributes": " x ".join(combo), "n_images": len(meta),
                "shares": ", ".join(f"{g} {v:.1f}%" for g, v in zip(s["group"], s["share"])),
                "least_group": least["group"], "least_share": round(share, 2), "description": text})
    return pd.DataFrame.from_records(rows)
