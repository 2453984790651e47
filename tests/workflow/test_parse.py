"""Parsing the workflow imports no torch, torchvision, timm or open_clip: a dry-run in a fresh
interpreter, then a look at ``sys.modules``. The plan modules resolve every job from config
alone; the libraries load in the jobs that use them."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HEAVY = ("torch", "torchvision", "timm", "open_clip")
DRY_RUN = f"""
import sys
from snakemake.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print("IMPORTED:", sorted(m for m in {HEAVY!r} if m in sys.modules))
sys.exit(code or 0)
"""


def dry_run(workdir, *args):
    cmd = [sys.executable, "-c", DRY_RUN, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "-n",
           "--cores", "1", "--quiet", "rules", *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


def test_toy_config_parses_without_torch(tmp_path):
    assert "IMPORTED: []" in dry_run(tmp_path)


def test_paper_config_parses_without_torch(paper_with_placeholders):
    tmp, override = paper_with_placeholders
    out = dry_run(tmp / "work-parse", "--configfile", ROOT / "config/paper.yaml", override)
    assert "IMPORTED: []" in out


@pytest.mark.parametrize("module", ["vlmbias.dsc.plan", "vlmbias.dsc.ssl_plan", "vlmbias.textspan.plan",
                                    "vlmbias.clip.spec", "vlmbias.tables.registry", "vlmbias.tables.report",
                                    "vlmbias.core.config"])
def test_plan_modules_import_no_torch(module):
    code = f"import sys, {module}; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", (module, out)


OVERLAYS = sorted(p.name for p in (ROOT / "config").glob("*.yaml")
                  if p.name not in ("config.yaml", "paper.yaml", "schema.yaml"))


def test_overlays_are_found():
    assert {"smoke.yaml", "subtle_cues.yaml", "texture_world.yaml"} <= set(OVERLAYS)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_parses(tmp_path, overlay):
    """Every overlay in config/ validates against the schema and plans on top of the default config."""
    out = dry_run(tmp_path, "--configfile", ROOT / "config/config.yaml", ROOT / "config" / overlay)
    assert "IMPORTED: []" in out
