"""Rule sample: seeded uniform sample of one dataset's raw shards."""
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.shards.manifest import read_manifest  # noqa: E402
from vlmbias.shards.sampler import sample_dataset  # noqa: E402

log = smk.setup(snakemake)
cfg = snakemake.params.sampling
out_dir = os.path.dirname(snakemake.output.index)  # writes shards/, index.parquet, bad_input.json there
if "manifest" in snakemake.input.keys():  # a user's shards, as listed when the workflow parsed
    shards = read_manifest(snakemake.input.manifest)
else:  # toy-world or converted shards, outputs of the DAG
    shards = list(snakemake.input.shards)
index = sample_dataset(
    snakemake.wildcards.dataset, shards, out_dir,
    n_train=int(cfg["n_train"]), n_val=int(cfg["n_val"]), seed=int(snakemake.params.seed),
    max_side=int(cfg["max_side"]), max_bad_fraction=float(snakemake.params.max_bad_fraction),
    source_split=cfg.get("source_split", "train"),
    samples_per_shard=int(cfg.get("samples_per_shard", 10000)),
    resized_format=cfg.get("resized_format", "png"), jpeg_quality=int(cfg.get("jpeg_quality", 95)),
    splits=snakemake.params.splits, alpha_background=tuple(cfg.get("alpha_background", (255, 255, 255))),
    scans=list(snakemake.input.scans) if "scans" in snakemake.input.keys() else None)
log.info("%s: %d sampled images written to %s", snakemake.wildcards.dataset, len(index), out_dir)
