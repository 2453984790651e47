"""UrbanCars and ImageNet shortcut metrics of Whac-A-Mole, as the official code computes them.

Source: facebookresearch/Whac-A-Mole, ``urbancars_trainers/base_trainer.py``
(``BaseTrainer._eval_split`` for the metrics, ``BaseTrainer.eval`` for the model selection) and
``utils.py::MultiDimAverageMeter.get_worst_group_acc``; research notes
``lle_whac_a_mole.md`` section 2.1 (UrbanCars) and 2.2 (ImageNet gaps). Pure numpy: no torch.

Cell layout (the official ``MultiDimAverageMeter((2, 2, 2))``, C order): a sample with object
(car body type) ``y``, background class ``b`` and co-occurring-object class ``c`` (each 0 =
urban, 1 = country) falls in cell ``CELL[y, b, c] = 4*y + 2*b + c``. The background is
"present"/aligned when ``b == y`` and "absent"/conflicting otherwise; same for the CoObj.

All returned accuracies and gaps are in percentage points (the official code computes fractions
and prints them x100).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

CELL = np.arange(8).reshape(2, 2, 2)  # CELL[obj, bg, coobj] -> flat cell index
#: early-stop metric names of the official launcher (``--early_stop_metric``) -> our metric key
SELECTION_KEYS = {"both": "worst_cell", "bg": "worst_bg_group", "co_occur_obj": "worst_coobj_group"}


def _binary(name: str, x, n: int | None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if n is not None and len(a) != n:
        raise ValueError(f"{name} has {len(a)} entries, label has {n}")
    if not np.isin(a, (0, 1)).all():
        bad = np.unique(a[~np.isin(a, (0, 1))])[:5].tolist()
        raise ValueError(f"{name} holds values outside 0/1: {bad}")
    return a.astype(np.int64)


def _ratio(name: str, r: float) -> float:
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {r}")
    return float(r)


def urbancars_metrics(label, bg, coobj, pred, bg_ratio: float = 0.95,
                      coobj_ratio: float = 0.95) -> dict:
    """UrbanCars metrics of one evaluated split (``_eval_split``), in points.

    ``label``, ``bg``, ``coobj``: the object, background and co-object class of each image;
    ``pred``: the predicted object class; all 0/1 arrays of one length. ``bg_ratio`` /
    ``coobj_ratio``: the *training* correlation strengths (launcher ``--bg_ratio`` /
    ``--co_occur_obj_ratio``, default 0.95).

    - ``cell_acc``: accuracy of each of the 8 cells, indexed by ``CELL``;
    - ``group_acc[(bg_state, coobj_state)]`` with states ``"aligned"``/``"conflicting"``:
      the unweighted mean over the two object classes of the cell accuracies;
    - ``id_acc`` = sum over the 4 groups of group_acc * p_bg * p_coobj, where p = ratio for an
      aligned shortcut and 1 - ratio for a conflicting one (0.9025 / 0.0475 / 0.0475 / 0.0025);
    - ``bg_gap`` = group_acc(BG conflicting, CoObj aligned) - id_acc;
      ``coobj_gap`` = group_acc(BG aligned, CoObj conflicting) - id_acc;
      ``both_gap`` = group_acc(both conflicting) - id_acc (normally negative; 0 is best);
    - ``worst_cell`` = min of the 8 cell accuracies (early-stop metric "both");
      ``worst_bg_group`` / ``worst_coobj_group``: min over the 4 (obj, bg) / (obj, coobj)
      groups of the accuracy pooled over the other shortcut ("bg" / "co_occur_obj");
    - ``acc``: plain accuracy over all images (for comparison; not a paper metric).

    Raises ValueError on mismatched lengths, non-0/1 values, or a cell with no samples (the
    official code would divide by zero and carry NaN).
    """
    y = _binary("label", label, None)
    n = len(y)
    if n == 0:
        raise ValueError("label is empty")
    b, c, p = _binary("bg", bg, n), _binary("coobj", coobj, n), _binary("pred", pred, n)
    rb, rc = _ratio("bg_ratio", bg_ratio), _ratio("coobj_ratio", coobj_ratio)

    correct = (p == y).astype(float)
    cells = CELL[y, b, c]
    cnt = np.bincount(cells, minlength=8).astype(float)
    if (cnt == 0).any():
        empty = [tuple(int(v) for v in np.argwhere(CELL == i)[0]) for i in np.flatnonzero(cnt == 0)]
        raise ValueError(f"cells (obj, bg, coobj) with no samples: {empty}")
    cum = np.bincount(cells, weights=correct, minlength=8)
    acc3 = (cum / cnt).reshape(2, 2, 2)

    states = {1: "aligned", 0: "conflicting"}
    group_acc, id_acc = {}, 0.0
    for bg_al in (0, 1):  # official loop order: absent then present, BG outer, CoObj inner
        for co_al in (0, 1):
            # the two cells (obj, bg, coobj) with bg == obj iff bg_al, coobj == obj iff co_al
            vals = [acc3[o, o if bg_al else 1 - o, o if co_al else 1 - o] for o in (0, 1)]
            g = float(np.mean(vals))
            group_acc[(states[bg_al], states[co_al])] = 100 * g
            id_acc += g * (rb if bg_al else 1 - rb) * (rc if co_al else 1 - rc)
    id_acc *= 100
    cum3, cnt3 = cum.reshape(2, 2, 2), cnt.reshape(2, 2, 2)
    return {
        "id_acc": id_acc,
        "bg_gap": group_acc[("conflicting", "aligned")] - id_acc,
        "coobj_gap": group_acc[("aligned", "conflicting")] - id_acc,
        "both_gap": group_acc[("conflicting", "conflicting")] - id_acc,
        "group_acc": group_acc,
        "cell_acc": 100 * acc3.reshape(8),
        "worst_cell": float(100 * acc3.min()),
        "worst_bg_group": float(100 * (cum3.sum(2) / cnt3.sum(2)).min()),
        "worst_coobj_group": float(100 * (cum3.sum(1) / cnt3.sum(1)).min()),
        "acc": float(100 * correct.mean()),
    }


GROUPS = (("aligned", True, True), ("bg_conflicting", False, True), ("coobj_conflicting", True, False),
          ("both_conflicting", False, False))


def ensemble_diagnostics(label, bg, coobj, head_preds, shift_probs, bg_ratio: float = 0.95,
                         coobj_ratio: float = 0.95) -> dict:
    """What an LLE ensemble's parts do on one evaluated split (not a paper metric; it explains
    the ensemble's gaps): ``heads[k]``, the I.D. accuracy and the three gaps of head ``k`` alone
    (:func:`urbancars_metrics` of its argmax); ``shift_weights[group]``, the mean softmax of the
    shift predictor over the images of each (BG, CoObj) group (``aligned``, ``bg_conflicting``,
    ``coobj_conflicting``, ``both_conflicting``), one weight per head. ``head_preds`` ``[N, K]``
    (0/1), ``shift_probs`` ``[N, K]``."""
    hp, w = np.asarray(head_preds), np.asarray(shift_probs, dtype=float)
    y = _binary("label", label, None)
    if hp.ndim != 2 or w.shape != hp.shape or len(hp) != len(y):
        raise ValueError(f"head_preds {hp.shape} and shift_probs {w.shape} must both be [N={len(y)}, K]")
    b, c = _binary("bg", bg, len(y)), _binary("coobj", coobj, len(y))
    heads = []
    for k in range(hp.shape[1]):
        m = urbancars_metrics(y, b, c, hp[:, k], bg_ratio, coobj_ratio)
        heads.append({key: float(m[key]) for key in ("id_acc", "bg_gap", "coobj_gap", "both_gap")})
    weights = {}
    for name, bg_al, co_al in GROUPS:
        sel = ((b == y) == bg_al) & ((c == y) == co_al)
        weights[name] = w[sel].mean(0).tolist() if sel.any() else [float("nan")] * w.shape[1]
    return {"heads": heads, "shift_weights": weights}


def select_epoch(history: Sequence[Mapping], rule: str = "both") -> dict:
    """Model selection of ``BaseTrainer.eval``: the epoch with the best validation worst-group
    accuracy; its *test* metrics are the reported ones.

    ``history[i]`` = ``{"val": metrics, "test": metrics}`` for epoch ``i + 1`` (the official
    code evaluates val and test after every epoch), metrics as returned by
    ``urbancars_metrics``. ``rule``: ``"both"`` (min over the 8 cells; the default and the one
    used for every method without group labels), ``"bg"`` or ``"co_occur_obj"``.

    Tie-break: the official update is ``if val > cond_best_acc`` (strict, starting from 0), so
    the FIRST epoch reaching the maximum wins. An epoch whose val metric is 0 is never selected
    there; if no epoch exceeds 0 the official code has no selected epoch (it then crashes on a
    missing key) -- here the first epoch is taken and the rule says so (``..._none_above_0``),
    so a run too short to lift any val cell above 0 still reports, visibly flagged.

    Returns ``{"epoch": 1-based epoch, "rule": "val_<rule>_worst_group_acc",
    "val": that epoch's val value, "test": that epoch's test metrics}``. Epochs that cannot be
    selected may carry ``"test": None`` (:func:`needs_test_eval`).
    """
    if rule not in SELECTION_KEYS:
        raise ValueError(f"unknown rule {rule!r}; expected one of {sorted(SELECTION_KEYS)}")
    if len(history) == 0:
        raise ValueError("history is empty")
    key, best, best_i = SELECTION_KEYS[rule], 0.0, None
    for i, h in enumerate(history):
        if "val" not in h:
            raise ValueError(f"epoch {i + 1}: history entries need 'val'")
        v = h["val"][key]
        if v > best:
            best, best_i = v, i
    suffix = ""
    if best_i is None:
        best_i, best, suffix = 0, history[0]["val"][key], "_none_above_0"
    if history[best_i].get("test") is None:
        raise ValueError(f"epoch {best_i + 1} is selected but has no test metrics (see needs_test_eval)")
    return {"epoch": best_i + 1, "rule": f"val_{rule}_worst_group_acc{suffix}", "val": best,
            "test": history[best_i]["test"]}


def needs_test_eval(epoch: int, val: Mapping, best_val: float, rule: str = "both") -> bool:
    """Whether :func:`select_epoch` could pick this epoch, so its test metrics are needed: the
    first epoch (the fallback when no epoch's val is above 0) or a val value strictly above
    ``best_val``, the best of the earlier epochs (0 before any). Only those epochs' test metrics
    can be reported, so a run evaluates test on them alone; ``best_val`` may be lower than the
    true best (a resumed run restarts at 0): that only evaluates more epochs, never fewer."""
    return epoch == 1 or val[SELECTION_KEYS[rule]] > best_val


def amplification(gap: float, erm_gap: float) -> float | None:
    """The tables' "(xk)" mark of a shortcut gap against the ERM row of the same table/arch.

    Shown only when ERM's gap is negative and the method's is worse (more negative): returns
    k = gap / erm_gap rounded half-up to 2 decimals, else None. In the material the marks appear
    on the single-shortcut gap columns (UrbanCars BG and CoObj gaps; ImageNet IN-W, SIN, IN-R,
    IN-9 gaps), never on UrbanCars "BG+CoObj" nor on the "Carton" gap (lower-is-better), nor on
    the ERM row -- the caller decides which columns get marks. The official code does not
    produce the marks; the rounding is inferred from the 27 printed marks: allowing for the
    printing precision of the gaps, round() fits 26 (floor fits 24, e.g. MAE-FT ViT-L SIN
    -62.48 / -61.43 = 1.017 is printed "x1.02"); the one misfit is MoCov3 IN-R, -56.86 / -50.36
    = 1.129 printed "x1.12". Pass unrounded gaps: from the printed one-decimal UrbanCars gaps a
    mark can be off by 0.01 (CF+F Aug 16.0/15.3 = 1.046 -> 1.05, printed 1.04).
    """
    if not (math.isfinite(gap) and math.isfinite(erm_gap)):
        raise ValueError(f"gaps must be finite, got {gap}, {erm_gap}")
    if erm_gap >= 0 or gap >= erm_gap:  # ERM without a gap (a seed can show one >= 0): no ratio
        return None
    return math.floor(gap / erm_gap * 100 + 0.5 + 1e-9) / 100


def accuracy_gap(correct_shifted, correct_base) -> float:
    """ImageNet shortcut gap in points: acc(shifted set) - acc(base set) (notes section 2.2;
    ``imagenet_trainers/base_trainer.py::eval``). IN-W: ImageNet-W vs IN-1k val; SIN:
    Stylized-IN val vs IN-1k; IN-R: ImageNet-R vs IN-200; IN-9: mixed_rand vs mixed_same;
    IN-Sketch vs IN-1k. The inputs are per-image correctness (0/1); the class restriction of
    IN-R/IN-200 (logit mask) and the IN-9 mapping (unmapped = wrong) are applied to the
    predictions before this. Negative = worse on the shifted set.
    """
    s = _binary("correct_shifted", correct_shifted, None)
    b = _binary("correct_base", correct_base, None)
    if len(s) == 0 or len(b) == 0:
        raise ValueError("empty correctness array")
    return float(100 * (s.mean() - b.mean()))


CARTON = 478


def carton_gap(label, pred_base, pred_watermarked, carton: int = CARTON) -> float:
    """Carton gap in points: accuracy on the carton-class images (label == 478) of the
    watermarked predictions minus that of the original ones (notes section 2.2). With the 50
    carton val images it moves in steps of 2; positive = the watermark pushes towards carton.
    """
    y, pb, pw = (np.asarray(a) for a in (label, pred_base, pred_watermarked))
    if not (y.ndim == pb.ndim == pw.ndim == 1 and len(y) == len(pb) == len(pw)):
        raise ValueError(f"label/pred_base/pred_watermarked lengths differ: {len(y)}, {len(pb)}, {len(pw)}")
    m = y == carton
    if not m.any():
        raise ValueError(f"no image of the carton class ({carton})")
    return float(100 * ((pw[m] == carton).mean() - (pb[m] == carton).mean()))


#: the six ImageNet columns of the material's table (notes section 2.2), in its order
IMAGENET_COLUMNS = ("in1k", "in_w_gap", "carton_gap", "sin_gap", "in_r_gap", "in9_gap")
#: the evaluation sets they are computed from (``val_w``: the val images under ImageNet-W)
IMAGENET_SETS = ("val", "val_w", "val_stylized", "val_rendition", "val_mixed_same", "val_mixed_rand")


def restricted_argmax(logits, classes: Sequence[int]) -> np.ndarray:
    """The argmax over the given classes only (IN-R / IN-200: the logits of the 200 classes,
    the official ``map_prediction`` mask), as class indices of the full set."""
    z = np.asarray(logits, dtype=np.float64)
    cls = np.asarray(list(classes), dtype=np.int64)
    if z.ndim != 2 or len(cls) == 0 or cls.min() < 0 or cls.max() >= z.shape[1]:
        raise ValueError(f"restricted_argmax: logits of shape {z.shape} and classes {cls.tolist()[:5]}...")
    return cls[z[:, cls].argmax(1)]


def imagenet_shortcut_metrics(sets: Mapping[str, tuple], carton: int = CARTON,
                              rendition_classes: Sequence[int] | None = None,
                              in9_map: Sequence[int] | None = None) -> dict:
    """The material's six ImageNet columns (and the accuracies behind them), in points, from
    ``sets[name] = (logits [N, C], labels [N])`` for the names of ``IMAGENET_SETS``:

    - ``in1k``: top-1 on ``val``; ``in_w_gap``: acc(``val_w``) - acc(``val``), the same images;
    - ``carton_gap``: on the carton images of ``val``, acc under the watermark minus without;
    - ``sin_gap``: acc(``val_stylized``) - acc(``val``), full prediction;
    - ``in_r_gap``: acc(``val_rendition``) - acc(IN-200: the ``val`` images of the rendition
      classes), both with the prediction restricted to ``rendition_classes``;
    - ``in9_gap``: acc(``val_mixed_rand``) - acc(``val_mixed_same``); ``in9_map[c]`` maps a
      predicted class to the IN-9 label space (-1: unmapped, counted wrong); None: same space.

    Sets that are absent leave their columns out."""
    def pred(name):
        z, y = sets[name]
        z, y = np.asarray(z), np.asarray(y).astype(np.int64)
        if z.ndim != 2 or len(z) != len(y):
            raise ValueError(f"{name}: logits of shape {z.shape} for {len(y)} labels")
        return z, y, z.argmax(1)

    out: dict = {}
    if "val" in sets:
        z, y, p = pred("val")
        out["in1k"] = float(100 * (p == y).mean())
        if "val_w" in sets:
            zw, yw, pw = pred("val_w")
            if not np.array_equal(y, yw):
                raise ValueError("val_w must hold the val images in the same order (labels differ)")
            out["in_w"] = float(100 * (pw == yw).mean())
            out["in_w_gap"] = accuracy_gap(pw == yw, p == y)
            has = y == carton
            out["carton_gap"] = carton_gap(y, p, pw, carton) if has.any() else float("nan")
            out["carton_acc"] = float(100 * (p[has] == carton).mean()) if has.any() else float("nan")
            out["n_carton"] = int(has.sum())  # the carton gap's sample: one image is 100 / n_carton points
        if "val_stylized" in sets:
            _, ys, ps = pred("val_stylized")
            out["sin"] = float(100 * (ps == ys).mean())
            out["sin_gap"] = accuracy_gap(ps == ys, p == y)
        if "val_rendition" in sets:
            if not rendition_classes:
                raise ValueError("val_rendition given without its rendition_classes")
            zr, yr, _ = pred("val_rendition")
            m = np.isin(y, list(rendition_classes))
            if not m.any():
                raise ValueError("no val image of the rendition classes (IN-200 is empty)")
            in_r = restricted_argmax(zr, rendition_classes) == yr
            in_200 = restricted_argmax(z[m], rendition_classes) == y[m]
            out["in_r"], out["in200"] = float(100 * in_r.mean()), float(100 * in_200.mean())
            out["in_r_gap"] = accuracy_gap(in_r, in_200)
    if "val_mixed_same" in sets and "val_mixed_rand" in sets:
        mapping = None if in9_map is None else np.asarray(list(in9_map), dtype=np.int64)
        correct = {}
        for name in ("val_mixed_same", "val_mixed_rand"):
            _, yy, pp = pred(name)
            correct[name] = (pp if mapping is None else mapping[pp]) == yy
        out["mixed_same"] = float(100 * correct["val_mixed_same"].mean())
        out["mixed_rand"] = float(100 * correct["val_mixed_rand"].mean())
        out["in9_gap"] = accuracy_gap(correct["val_mixed_rand"], correct["val_mixed_same"])
    return out
