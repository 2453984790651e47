"""The one table registry (vlmbias/tables/registry.yaml): every entry resolves (family, config
section, rule, row builder, writer, figures), a table id is spelt once in the code, and the
report's categories come from it."""

import pathlib
import re

import pytest
import yaml

from vlmbias.tables import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
RULES = "\n".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
CONFIGS = {name: yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text()) for name in ("config", "paper")}


@pytest.mark.parametrize("table_id", registry.ids())
def test_entry_resolves(table_id):
    t = registry.table(table_id)
    assert t.family in registry.families()
    assert re.search(rf"^(rule {t.rule}:|use rule \w+ as {t.rule} with:)", RULES, re.M), t.rule
    assert callable(registry._resolve(t.writer))
    for name, cfg in CONFIGS.items():
        assert t.enabled(cfg), (name, t.config)  # both configs ask for every table
    if t.rows:
        assert registry.rows(table_id, CONFIGS["config"])
    assert (t.figures == "per_model") == bool(t.figures_per)
    assert t.source and isinstance(t.reported, dict)


def test_a_table_id_is_spelt_once_in_the_code():
    """The registry is the only place of the package, the rules and the scripts that names a table."""
    files = [p for d in ("vlmbias", "rules", "scripts") for p in (ROOT / d).rglob("*")
             if p.is_file() and p.suffix in (".py", ".smk", ".yaml") and p.name != "registry.yaml"]
    files.append(ROOT / "Snakefile")
    for table_id in registry.ids():
        found = [str(p.relative_to(ROOT)) for p in files if table_id in p.read_text()]
        assert not found, (table_id, found)


def test_enabled_follows_the_config_sections():
    cfg = CONFIGS["config"]
    assert registry.enabled(cfg) == registry.ids()
    without = {**cfg, "textspan": None, "ssl": {**cfg["ssl"]}}
    del without["ssl"]["t09_transfer"]
    enabled = registry.enabled(without)
    assert "t09_transfer" not in enabled and not any(registry.table(t).family == "textspan" for t in enabled)
    assert registry.figure_paths(cfg)[-2:] == ["results/figures/t20_textspan_heads_toy_vit.png",
                                               "results/figures/f21_token_heatmaps_toy_vit.png"]


def test_categories_and_reported_values():
    assert registry.category("t01_combinations").startswith("Liu & He")
    assert registry.category("t20_textspan_heads_toy_vit") == registry.families()["textspan"]  # a figure
    assert registry.category("t99_unknown") == registry.OTHER_FAMILY
    assert registry.reported_value("t01_combinations", "YCD") == 84.7
    assert registry.reported_value("t01_combinations", "nope") is None
    with pytest.raises(KeyError, match="no table 't99'"):
        registry.table("t99")
