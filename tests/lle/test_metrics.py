"""Hand-computed checks of vlmbias.lle.metrics (Whac-A-Mole UrbanCars / ImageNet metrics)."""

import numpy as np
import pytest

from vlmbias.lle.metrics import (CELL, SELECTION_KEYS, accuracy_gap, amplification, carton_gap,
                                 select_epoch, needs_test_eval, urbancars_metrics)


def _make(spec):
    """spec: {(obj, bg, coobj): (n, n_correct)} -> label, bg, coobj, pred arrays."""
    y, b, c, p = [], [], [], []
    for (o, bb, cc), (n, k) in spec.items():
        y += [o] * n; b += [bb] * n; c += [cc] * n
        p += [o] * k + [1 - o] * (n - k)
    return map(np.array, (y, b, c, p))


# (obj, bg, coobj): (n, correct). Aligned = shortcut class == obj.
SPEC = {
    (0, 0, 0): (4, 4), (1, 1, 1): (2, 2),   # BG aligned, CoObj aligned   -> (1 + 1)/2    = 1.0
    (0, 1, 0): (2, 1), (1, 0, 1): (1, 1),   # BG conflict, CoObj aligned  -> (.5 + 1)/2   = 0.75
    (0, 0, 1): (2, 2), (1, 1, 0): (2, 0),   # BG aligned, CoObj conflict  -> (1 + 0)/2    = 0.5
    (0, 1, 1): (1, 0), (1, 0, 0): (4, 1),   # both conflicting            -> (0 + .25)/2  = 0.125
}
# I.D. = .9025*1 + .0475*.75 + .0475*.5 + .0025*.125 = .9621875 -> 96.21875
# plain accuracy = (4+2+1+1+2+0+0+1)/18 = 11/18 = 61.11
ID = 96.21875


def test_cell_layout_matches_official_meter():
    assert CELL[0, 0, 0] == 0 and CELL[0, 1, 0] == 2 and CELL[1, 0, 1] == 5 and CELL[1, 1, 1] == 7


def test_urbancars_hand_computed():
    m = urbancars_metrics(*_make(SPEC))
    assert m["id_acc"] == pytest.approx(ID)
    assert m["acc"] == pytest.approx(100 * 11 / 18)  # re-weighting differs from plain accuracy
    assert m["group_acc"][("conflicting", "aligned")] == pytest.approx(75)
    assert m["bg_gap"] == pytest.approx(75 - ID)          # -21.21875
    assert m["coobj_gap"] == pytest.approx(50 - ID)       # -46.21875
    assert m["both_gap"] == pytest.approx(12.5 - ID)      # -83.71875
    assert m["cell_acc"][CELL[1, 0, 0]] == pytest.approx(25)
    assert m["worst_cell"] == 0.0                          # cells (0,1,1) and (1,1,0)
    # (obj, bg) pooled over coobj: 6/6, 1/3, 2/5, 2/4 -> 1/3
    assert m["worst_bg_group"] == pytest.approx(100 / 3)
    # (obj, coobj) pooled over bg: 5/6, 2/3, 1/6, 3/3 -> 1/6
    assert m["worst_coobj_group"] == pytest.approx(100 / 6)


def test_ratios_change_the_weights():
    # ratios 0.5: I.D. = plain mean of the 4 groups = (1 + .75 + .5 + .125)/4 = 59.375
    m = urbancars_metrics(*_make(SPEC), bg_ratio=0.5, coobj_ratio=0.5)
    assert m["id_acc"] == pytest.approx(59.375)


def test_gap_signs_for_a_background_only_classifier():
    # predict the background class: right iff BG aligned. Groups AA=1, CA=0, AC=1, CC=0,
    # I.D. = .9025 + .0475 = .95 -> BG gap -95, CoObj gap +5 (positive), both -95.
    y, b, c, _ = _make({k: (3, 0) for k in np.ndindex(2, 2, 2)})
    m = urbancars_metrics(y, b, c, b)
    assert m["id_acc"] == pytest.approx(95)
    assert m["bg_gap"] == pytest.approx(-95)
    assert m["coobj_gap"] == pytest.approx(5)
    assert m["both_gap"] == pytest.approx(-95)
    perfect = urbancars_metrics(y, b, c, y)
    assert perfect["bg_gap"] == perfect["coobj_gap"] == perfect["both_gap"] == 0


@pytest.mark.parametrize("mutate, msg", [
    (lambda y, b, c, p: (y, b[:-1], c, p), "bg has"),
    (lambda y, b, c, p: (y, b, c, p + 1), "outside 0/1"),
    (lambda y, b, c, p: (y[y == 0], b[y == 0], c[y == 0], p[y == 0]), "no samples"),
])
def test_bad_input(mutate, msg):
    with pytest.raises(ValueError, match=msg):
        urbancars_metrics(*mutate(*_make(SPEC)))


def _h(val_worst, test_id):
    return {"val": {"worst_cell": val_worst}, "test": {"id_acc": test_id}}


def test_select_epoch_best_val_first_max_not_best_test():
    hist = [_h(10, 90), _h(30, 91), _h(30, 92), _h(20, 99)]
    s = select_epoch(hist)
    assert s["epoch"] == 2 and s["rule"] == "val_both_worst_group_acc"  # first of the tied 30s
    assert s["test"] == {"id_acc": 91}                                  # not epoch 4's 99
    none = select_epoch([_h(0, 90), _h(0, 80)])   # the official would crash: the first epoch, flagged
    assert none["epoch"] == 1 and none["rule"] == "val_both_worst_group_acc_none_above_0"
    with pytest.raises(ValueError, match="unknown rule"):
        select_epoch(hist, rule="worst")


@pytest.mark.parametrize("rule", sorted(SELECTION_KEYS))
def test_test_only_where_needs_test_eval_selects_what_every_epoch_would(rule):
    """A run evaluating test only where needs_test_eval says reports what evaluating it after every
    epoch reports (val series with ties, zeros, and resumed runs restarting their best at 0)."""
    key, rng = SELECTION_KEYS[rule], np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(1, 12))
        vals = rng.choice([0.0, 0.0, 10.0, 20.0, 20.0, 30.0, 40.0], size=n) if trial % 2 else rng.uniform(0, 50, n)
        full = [{"val": {key: float(v)}, "test": {"id_acc": float(i)}} for i, v in enumerate(vals)]
        resume_at = int(rng.integers(0, n + 1))
        lazy, best = [], 0.0
        for e, h in enumerate(full, start=1):
            if e - 1 == resume_at:
                best = 0.0   # a resumed process does not know the earlier epochs' best
            need = needs_test_eval(e, h["val"], best, rule)
            lazy.append({"val": h["val"], "test": h["test"] if need else None})
            if need:
                best = max(best, h["val"][key])
        assert select_epoch(lazy, rule) == select_epoch(full, rule)
    assert needs_test_eval(1, {key: 0.0}, 5.0, rule) and not needs_test_eval(2, {key: 5.0}, 5.0, rule)
    with pytest.raises(ValueError, match="no test metrics"):
        select_epoch([{"val": {key: 1.0}, "test": None}], rule)


def test_amplification_marks_as_printed():
    assert amplification(-45.0, -15.3) == 2.94    # CutMix BG gap vs ERM
    assert amplification(-15.8, -15.3) == 1.03    # Cutout
    assert amplification(-18.4, -11.2) == 1.64    # LfF CoObj gap
    assert amplification(-62.48, -61.43) == 1.02  # MAE-FT ViT-L SIN: 1.0171 rounded, not floored
    assert amplification(-67.33, -62.60) == 1.08  # SWAG-LP ViT-B SIN: 1.0756
    assert amplification(-15.95, -15.34) == 1.04  # unrounded gaps for CF+F's printed x1.04
    assert amplification(-11.6, -15.3) is None    # better than ERM: no mark
    assert amplification(-15.3, -15.3) is None
    assert amplification(-2.0, 0.8) is None and amplification(-2.0, 0.0) is None  # ERM without a gap: no ratio
    with pytest.raises(ValueError):
        amplification(float("nan"), -5.0)


def test_imagenet_gaps():
    assert accuracy_gap([1, 0, 0, 0], [1, 1, 0, 0]) == pytest.approx(-25)
    # carton images: idx 0..3; base predicts carton on 1 of 4, watermarked on 3 of 4 -> +50
    label = [478, 478, 478, 478, 5]
    assert carton_gap(label, [478, 1, 2, 3, 478], [478, 478, 478, 3, 478]) == pytest.approx(50)
    with pytest.raises(ValueError, match="carton"):
        carton_gap([1, 2], [1, 2], [1, 2])


def test_ensemble_diagnostics_hand_computed():
    from vlmbias.lle.metrics import ensemble_diagnostics
    y, b, c, p = _make(SPEC)
    n = len(y)
    # head 0 predicts as SPEC (gaps as above); head 1 always right (gaps 0)
    heads = np.stack([p, y], 1)
    # weights: head 1 gets 0.8 on CoObj-conflicting images, 0.3 elsewhere
    co_conf = (c != y) & (b == y)
    w1 = np.where(co_conf, 0.8, 0.3)
    probs = np.stack([1 - w1, w1], 1)
    d = ensemble_diagnostics(y, b, c, heads, probs)
    assert d["heads"][0]["id_acc"] == pytest.approx(ID) and d["heads"][0]["bg_gap"] == pytest.approx(75 - ID)
    assert d["heads"][1] == {"id_acc": pytest.approx(100), "bg_gap": 0, "coobj_gap": 0, "both_gap": 0}
    assert d["shift_weights"]["coobj_conflicting"] == pytest.approx([0.2, 0.8])
    assert d["shift_weights"]["bg_conflicting"] == pytest.approx([0.7, 0.3])
    assert set(d["shift_weights"]) == {"aligned", "bg_conflicting", "coobj_conflicting", "both_conflicting"}
    with pytest.raises(ValueError, match="head_preds"):
        ensemble_diagnostics(y, b, c, heads[:, :1], probs)
    assert n == 18
