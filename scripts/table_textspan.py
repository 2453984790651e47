"""Rules t18_textspan_mlp_ablation, f19_textspan_msa_ablation, t20_textspan_heads, t22_textspan_waterbirds."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias import interpret, smk, tables  # noqa: E402

log = smk.setup(snakemake)
tid = snakemake.params.table_id
runs = tables.load_json(snakemake.input.runs)
out = snakemake.output
if tid == "t18_textspan_mlp_ablation":
    interpret.write_t18(snakemake.config, runs, out.csv, out.md)
elif tid == "f19_textspan_msa_ablation":
    interpret.write_f19(snakemake.config, runs, out.csv, out.md, out.png)
elif tid == "t20_textspan_heads":
    pngs = [out.png] if isinstance(out.png, str) else list(out.png)
    interpret.write_t20(snakemake.config, runs, out.csv, out.md, dict(zip(snakemake.params.models, pngs)),
                        snakemake.params.show_texts)
else:
    interpret.write_t22(snakemake.config, runs, out.csv, out.md)
log.info("wrote %s", out.md)
