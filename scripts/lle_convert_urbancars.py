"""Rule lle_convert_urbancars: the official UrbanCars folder tree -> WebDataset shards (vlmbias.lle.convert)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.lle.convert import convert  # noqa: E402

log = smk.setup(snakemake)
counts = convert(snakemake.input.root, list(snakemake.output), log=log.info)
log.info("%s: %d images converted (%s)", snakemake.wildcards.converted, counts["total"],
         ", ".join(f"{s} {t['n']}" for s, t in counts["splits"].items()))
