"""Whether the material's findings show in the reproduced dataset-classification tables: one
sentence per finding, computed from a table's frame (``vlmbias.dsc.tables``), printed in its
notes. A difference counts only beyond the spread: more than twice the standard error of the
difference of two means over seeds (``reproduced_acc_std`` / ``seeds``); a table without seeds
has no spread, and every difference counts as printed."""

from __future__ import annotations

import math

import pandas as pd


def _se(df: pd.DataFrame, i, j) -> float:
    if "reproduced_acc_std" not in df:
        return 0.0
    n = float(min(df.at[i, "seeds"], df.at[j, "seeds"]))
    return math.sqrt((df.at[i, "reproduced_acc_std"] ** 2 + df.at[j, "reproduced_acc_std"] ** 2) / n)


def compare(df: pd.DataFrame, i, j) -> str:
    """``higher`` / ``lower`` / ``level`` for row i against row j (rounded to the printed 0.1)."""
    d = round(float(df.at[i, "reproduced_acc"] - df.at[j, "reproduced_acc"]), 1)
    se = _se(df, i, j)
    if d > 2 * se and d > 0:
        return "higher"
    if d < -2 * se and d < 0:
        return "lower"
    return "level"


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def _series(df: pd.DataFrame, idx) -> str:
    return " → ".join(f"{df.at[i, 'reproduced_acc']:.1f}" for i in idx)


def _reported(df: pd.DataFrame, i) -> str:
    v = df.at[i, "reported_acc"] if "reported_acc" in df else float("nan")
    return "-" if pd.isna(v) else f"{v:.1f}"


def _rises(df: pd.DataFrame, idx) -> tuple[bool, bool]:
    """(no step down beyond the spread, last above first beyond the spread)."""
    steps = [compare(df, b, a) for a, b in zip(idx, idx[1:])]
    return "lower" not in steps, compare(df, idx[-1], idx[0]) == "higher"


def combinations(df: pd.DataFrame) -> list[str]:
    """t01: the rows holding both DataComp and LAION are the lowest three-way rows; six-way above
    five-way."""
    out = []
    three = df[df["panel"] == "three-way"]
    both = three["combination"].str.contains("D") & three["combination"].str.contains("L")
    if both.any() and (~both).any():
        k = int(both.sum())
        lowest = set(three.nsmallest(k, "reproduced_acc")["combination"])
        out.append(f"Finding, the DataComp+LAION rows are the hardest: the {k} three-way rows with both "
                   f"({three.loc[both, 'reproduced_acc'].min():.1f}-{three.loc[both, 'reproduced_acc'].max():.1f}) "
                   f"are the {k} lowest of {len(three)}: {_yes(lowest == set(three.loc[both, 'combination']))}.")
    nested = df[df["panel"] == "nested"].reset_index(drop=True)
    if len(nested) >= 2:
        a, b = len(nested) - 1, len(nested) - 2
        out.append(f"Finding, {nested.at[a, 'combination']} above {nested.at[b, 'combination']} (the material: "
                   f"{_reported(nested, a)} vs {_reported(nested, b)}): {nested.at[a, 'reproduced_acc']:.1f} vs "
                   f"{nested.at[b, 'reproduced_acc']:.1f}: "
                   f"{_yes(nested.at[a, 'reproduced_acc'] > nested.at[b, 'reproduced_acc'])}.")
    return out


def architectures(df: pd.DataFrame) -> list[str]:
    """t02: every architecture far above chance, AlexNet the lowest."""
    low = df.loc[df["reproduced_acc"].idxmin(), "model"]
    return [f"Finding, every architecture high and AlexNet the lowest: lowest {low} "
            f"({df['reproduced_acc'].min():.1f}); all above chance + 30: "
            f"{_yes(bool((df['reproduced_acc'] > df['chance'] + 30).all()))}; AlexNet lowest: {_yes(low == 'AlexNet')}."]


def model_size(df: pd.DataFrame) -> list[str]:
    """f03: accuracy grows with parameters (no step down beyond the spread), with diminishing
    returns (the gain of the upper half of the sizes below that of the lower half)."""
    d = df.sort_values("params")
    idx = list(d.index)
    no_drop, up = _rises(df, idx)
    half = len(idx) // 2
    low_gain = df.at[idx[half], "reproduced_acc"] - df.at[idx[0], "reproduced_acc"]
    high_gain = df.at[idx[-1], "reproduced_acc"] - df.at[idx[half], "reproduced_acc"]
    return [f"Finding, accuracy grows with parameters: {_series(df, idx)} by size; no step down beyond the "
            f"spread: {_yes(no_drop)}; largest above smallest beyond it: {_yes(up)}; diminishing returns "
            f"(gain {low_gain:+.1f} over the smaller half of the sizes, {high_gain:+.1f} over the larger): "
            f"{_yes(high_gain < low_gain)}."]


def train_images(df: pd.DataFrame, group: str = "model") -> list[str]:
    """f04 (per model) and t05 (per augmentation row): accuracy rises with training images."""
    out = []
    for name, d in df.groupby(group, sort=False):
        idx = list(d.sort_values("n_train").index)
        if len(idx) < 2:   # one size (a trimmed sweep): no trend to read
            continue
        no_drop, up = _rises(df, idx)
        out.append(f"Finding, {name} rises with images: {_series(df, idx)}: {_yes(no_drop and up)}"
                   + ("" if no_drop else " (a step down beyond the spread)")
                   + ("" if up else " (the largest size not above the smallest beyond the spread)") + ".")
    return out


def augmentation(df: pd.DataFrame) -> list[str]:
    """t05: every row rises with images; at the largest size every augmented column beats no_aug."""
    out = train_images(df, "augmentation")
    top = df[df["n_train"] == df["n_train"].max()]
    plain = top[top["augmentation"] == "no_aug"]
    if len(plain):
        p = plain.index[0]
        verdicts = {top.at[i, "augmentation"]: compare(df, i, p) for i in top.index if i != p}
        gains = [top.at[i, "reported_acc"] - top.at[p, "reported_acc"] for i in top.index if i != p] \
            if "reported_acc" in top else [float("nan")]
        material = (f"the material: every augmented column {min(gains):+.1f} to {max(gains):+.1f} against no_aug"
                    if pd.notna(gains).all() else "no reported values here")
        out.append(f"Finding, augmentation helps at the largest size ({material}): against no_aug "
                   f"{df.at[p, 'reproduced_acc']:.1f}, "
                   + ", ".join(f"{k} {top.loc[top['augmentation'] == k, 'reproduced_acc'].iloc[0]:.1f} ({v})"
                               for k, v in verdicts.items())
                   + f": {_yes(all(v == 'higher' for v in verdicts.values()))}.")
    return out


def corruptions(df: pd.DataFrame) -> list[str]:
    """t06: every corruption lowers accuracy; of two settings of one kind (``<kind>_<setting>``, in
    the config's order, the paper's: weaker first), the stronger lowers it more."""
    d = df.reset_index(drop=True)
    none = d.index[d["corruption"] == "none"]
    out = []
    if len(none):
        verdicts = {d.at[i, "corruption"]: compare(d, i, none[0]) for i in d.index if i != none[0]}
        lower = [k for k, v in verdicts.items() if v == "lower"]
        out.append(f"Finding, each corruption lowers accuracy: {len(lower)} of {len(verdicts)} below none "
                   f"beyond the spread ({', '.join(k for k in verdicts if k not in lower) or 'all'} not): "
                   f"{_yes(len(lower) == len(verdicts))}.")
    kinds: dict[str, list[int]] = {}
    for i in d.index:
        if d.at[i, "corruption"] != "none":
            kinds.setdefault(d.at[i, "corruption"].rsplit("_", 1)[0], []).append(i)
    for kind, idx in kinds.items():
        if len(idx) == 2:
            v = compare(d, idx[1], idx[0])
            out.append(f"Finding, the stronger {kind} lower: {d.at[idx[0], 'corruption']} "
                       f"{d.at[idx[0], 'reproduced_acc']:.1f}, {d.at[idx[1], 'corruption']} "
                       f"{d.at[idx[1], 'reproduced_acc']:.1f} ({v}): {_yes(v == 'lower')}.")
    return out


def binomial_se(acc_percent: float, n: int) -> float:
    """Standard error (points) of an accuracy measured on ``n`` images: the spread of a single
    run's number from its finite evaluation set."""
    p = min(max(float(acc_percent) / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(p * (1.0 - p) / max(int(n), 1))


def transfer(df: pd.DataFrame) -> list[str]:
    """t09: the dataset-classification rows (encoder ``dsc-*``, datasets added one at a time in
    the frame's order) above random weights (``random-*``), rising, and below the MAE reference
    (``mae-*``)."""
    kind = df["encoder"].str.split("-", n=1).str[0]
    rand, mae, dsc = (list(df.index[kind == k]) for k in ("random", "mae", "dsc"))
    out = []
    if rand and dsc:
        v = [compare(df, i, rand[0]) for i in dsc]
        out.append(f"Finding, dataset-classification features transfer (the material: every row above random "
                   f"weights' {_reported(df, rand[0])}): {_series(df, dsc)} against random "
                   f"{df.at[rand[0], 'reproduced_acc']:.1f}: {_yes(all(x == 'higher' for x in v))}"
                   + ("" if all(x == "higher" for x in v) else f" ({v.count('higher')} of {len(v)} above beyond the spread)")
                   + ".")
    if len(dsc) > 1:
        no_drop, up = _rises(df, dsc)
        out.append(f"Finding, more datasets, better features (the material: {' → '.join(_reported(df, i) for i in dsc)}): "
                   f"{_series(df, dsc)}: {_yes(no_drop and up)}"
                   + ("" if no_drop else " (a step down beyond the spread)")
                   + ("" if up else " (the last not above the first beyond the spread)") + ".")
    if mae and dsc:
        v = [compare(df, mae[0], i) for i in dsc]
        out.append(f"Finding, the MAE reference far above them (the material: {_reported(df, mae[0])}): "
                   f"{df.at[mae[0], 'reproduced_acc']:.1f}: {_yes(all(x == 'higher' for x in v))}"
                   + ("" if all(x == "higher" for x in v) else f" (above {v.count('higher')} of {len(v)} beyond the spread)")
                   + ".")
    return out
