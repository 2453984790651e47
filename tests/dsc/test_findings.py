"""The findings sentences of the dataset-classification tables, on hand-made frames."""

import pandas as pd

from vlmbias.dsc import findings as F


def frame(accs, stds=None, seeds=3, **cols):
    df = pd.DataFrame({"reproduced_acc": accs, **cols})
    if stds is not None:
        df["reproduced_acc_std"], df["seeds"] = stds, seeds
    return df


def test_compare_counts_only_beyond_the_spread():
    df = frame([80.0, 81.0, 86.0], [2.0, 2.0, 2.0])   # se of a difference: sqrt(8 / 3) = 1.63
    assert F.compare(df, 1, 0) == "level" and F.compare(df, 2, 0) == "higher" and F.compare(df, 0, 2) == "lower"
    single = frame([80.0, 80.04, 80.2])                # no seeds: as printed (0.1)
    assert F.compare(single, 1, 0) == "level" and F.compare(single, 2, 0) == "higher"


def test_model_size_monotone_within_the_spread_and_diminishing():
    df = frame([70.0, 76.0, 79.0, 78.5, 80.0], [1.0] * 5, params=[7e3, 1e5, 3e5, 5e5, 9e5])
    (s,) = F.model_size(df)
    assert "no step down beyond the spread: yes" in s and "largest above smallest beyond it: yes" in s
    assert "diminishing returns (gain +9.0 over the smaller half of the sizes, +1.0 over the larger): yes" in s
    df.loc[3, "reproduced_acc"] = 70.0
    assert "no step down beyond the spread: NO" in F.model_size(df)[0]


def test_train_images_and_augmentation():
    df = frame([60.0, 70.0, 80.0, 70.0, 74.0, 73.5], [1.0] * 6, n_train=[50, 150, 400] * 2,
               augmentation=["no_aug"] * 3 + ["crop"] * 3)
    lines = F.augmentation(df)
    assert lines[0].endswith("60.0 → 70.0 → 80.0: yes.")
    assert lines[1].endswith("70.0 → 74.0 → 73.5: yes.")   # 74 -> 73.5 is within the spread
    assert "crop 73.5 (lower): NO." in lines[2]
    df.loc[5, "reproduced_acc"] = 71.0                        # 71 vs 70: not above beyond the spread
    assert "(the largest size not above the smallest beyond the spread)" in F.augmentation(df)[1]


def test_corruptions_stronger_setting_lower():
    df = frame([85.0, 80.0, 75.0, 84.9, 85.0], [0.5] * 5,
               corruption=["none", "noise_0.2", "noise_0.3", "blur_3", "blur_5"])
    lines = F.corruptions(df)
    assert "2 of 4 below none beyond the spread (blur_3, blur_5 not): NO." in lines[0]
    assert "the stronger noise lower: noise_0.2 80.0, noise_0.3 75.0 (lower): yes." in lines[1]
    assert lines[2].endswith("(level): NO.")


def test_combinations_and_architectures():
    df = frame([90.0, 60.0, 88.0, 85.0, 70.0, 72.0], panel=["three-way"] * 4 + ["nested"] * 2,
               combination=["YCD", "YDL", "YCW", "CWI", "YCDWL", "YCDWLI"], chance=[33.3] * 4 + [20.0, 16.7])
    a, b = F.combinations(df)
    assert "the 1 three-way rows with both (60.0-60.0) are the 1 lowest of 4: yes." in a
    assert "72.0 vs 70.0: yes." in b
    arch = frame([70.0, 80.0], model=["AlexNet", "ViT-S"], chance=[33.3, 33.3])
    assert F.architectures(arch)[0].endswith("AlexNet lowest: yes.")


def test_one_size_has_no_trend():
    df = frame([70.0, 72.0], [1.0, 1.0], n_train=[400, 400], augmentation=["no_aug", "crop"])
    (line,) = F.augmentation(df)
    assert line.startswith("Finding, augmentation helps at the largest size")


def test_transfer_above_random_rising_below_mae():
    se = [F.binomial_se(a, 150) for a in (21.3, 30.7, 32.7, 32.0, 33.3, 46.7)]
    df = frame([21.3, 30.7, 32.7, 32.0, 33.3, 46.7], se, seeds=1,
               encoder=["random-vit_s", "dsc-a", "dsc-b", "dsc-c", "dsc-d", "mae-imagenet"],
               reported_acc=[6.7, 27.7, 34.2, 34.2, 34.8, 68.0])
    assert abs(F.binomial_se(50.0, 100) - 5.0) < 1e-9
    a, b, c = F.transfer(df)
    # random 21.3 vs 30.7 on 150 images each: se of the difference 5.0, the gap 9.4 < 2 se
    assert a.endswith("30.7 → 32.7 → 32.0 → 33.3 against random 21.3: NO (3 of 4 above beyond the spread).")
    assert "(the material: 27.7 → 34.2 → 34.2 → 34.8)" in b and b.endswith(
        ": NO (the last not above the first beyond the spread).")   # 33.3 vs 30.7: within it
    assert c.endswith("46.7: yes.")
    df.loc[5, "reproduced_acc"] = 30.0
    assert F.transfer(df)[2].endswith("30.0: NO (above 0 of 4 beyond the spread).")
