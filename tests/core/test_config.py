"""load_config: the config Snakemake would see, outside Snakemake (overlay, schema, defaults),
and a clear error naming the file for each kind of bad input."""

import pathlib

import pytest
import yaml

from vlmbias.core.config import ConfigError, load_config

DEFAULT = str(pathlib.Path(__file__).resolve().parents[2] / "config" / "config.yaml")


def test_overlay_validated_with_schema_defaults(tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"toyworld": {"image_size": 16}, "corruptions": {"j": {"type": "color_jitter",
                                                                                         "strength": 3.0}}}))
    base = load_config([DEFAULT])
    cfg = load_config([DEFAULT, str(over)])
    assert cfg["toyworld"]["image_size"] == 16                          # the overlay wins
    assert cfg["toyworld"]["n_images"] == base["toyworld"]["n_images"]  # the rest of the section stays
    assert set(base["corruptions"]) < set(cfg["corruptions"])          # mappings merge, as Snakemake's
    del base["toyworld"]["shared_content"]
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump(base))
    assert load_config([str(bare)])["toyworld"]["shared_content"] == 0.0   # the schema's default


@pytest.mark.parametrize("text, match", [
    (None, "No such file"),
    ("toyworld: [unclosed", "not valid YAML"),
    ("- a list", "expected a mapping"),
    ("toyworld: {image_size: -3}", "image_size|-3"),
])
def test_bad_input_names_the_file(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=match) as e:
        load_config([DEFAULT, str(path)])
    assert "bad.yaml" in str(e.value)
    with pytest.raises(ConfigError, match="no config file"):
        load_config([])
