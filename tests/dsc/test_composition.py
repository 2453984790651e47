"""t10: group shares and the most under-represented group, from sampled metadata."""

import json

import pandas as pd

from vlmbias.dsc import composition as C


def index_of(metas):
    return pd.DataFrame({"metadata": [json.dumps(m) for m in metas]})


def test_shares_and_least_group():
    metas = ([{"people": "one", "setting": "outdoor"}] * 6 + [{"people": "none", "setting": "indoor"}] * 3
             + [{"people": "several", "setting": "outdoor"}])
    df = C.composition_table({"toy": index_of(metas)}, ["people", "setting"])
    people = df[df["attributes"] == "people"].iloc[0]
    assert people["least_group"] == "people=several" and people["least_share"] == 10.0
    assert "people=one 60.0%" in people["shares"]
    pair = df[df["attributes"] == "people x setting"].iloc[0]
    assert pair["least_group"] == "people=several & setting=outdoor"
    assert "only make up 10.0%" in pair["description"]


def test_auto_detects_categorical_fields_and_skips_img2dataset_ones():
    metas = [{"url": f"http://x/{i}", "caption": "c", "width": 3, "gender": "f" if i % 4 else "m"}
             for i in range(8)]
    meta = C.metadata_frame(index_of(metas))
    assert C.group_attributes(meta) == ["gender"]


def test_no_attributes_is_said_plainly():
    df = C.composition_table({"bare": index_of([{"url": "u", "caption": "c"}] * 3)})
    assert df.iloc[0]["description"] == "no group attributes found in the json metadata"


def test_missing_values_count_as_unknown():
    df = C.composition_table({"d": index_of([{"a": "x"}, {"a": "x"}, {}])}, ["a"], pairs=False)
    assert "a=unknown 33.3%" in df.iloc[0]["shares"]


def test_absent_groups_present_elsewhere_show_zero():
    a = index_of([{"style": "photo"}] * 4)
    b = index_of([{"style": "photo"}, {"style": "cartoon"}])
    df = C.composition_table({"a": a, "b": b}, ["style"])
    row = df[df["dataset"] == "a"].iloc[0]
    assert row["least_group"] == "style=cartoon" and row["least_share"] == 0.0
    assert "absent" in row["description"]
    single = C.composition_table({"a": a}, ["style"]).iloc[0]
    assert single["description"] == "every sampled image has style=photo"
