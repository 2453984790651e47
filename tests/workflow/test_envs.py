"""envs/*.yaml parse, are referenced by the rules, and pin what pyproject.toml pins."""

import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pyproject_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(.+)", d).groups() for d in deps)


def test_envs_agree_with_pyproject():
    pins = pyproject_pins()
    envs = sorted((ROOT / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        assert spec["name"] and "conda-forge" in spec["channels"]
        pip = [d for d in spec["dependencies"] if isinstance(d, dict)][0]["pip"]
        assert pip, env
        for line in pip:
            name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)==(.+)", line).groups()
            assert pins.get(name) == version, f"{env.name}: {line} vs pyproject {pins.get(name)}"


def test_every_rule_has_env_log_benchmark():
    text = "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    rules = re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", text, flags=re.S | re.M)
    assert len(rules) >= 5
    used = set()
    for name, body in rules:
        for directive in ("log:", "benchmark:", "conda:"):
            assert directive in body, f"rule {name} lacks {directive}"
        used |= set(re.findall(r'"\.\./envs/(\w+\.yaml)"', body))
    assert used == {p.name for p in (ROOT / "envs").glob("*.yaml")}
