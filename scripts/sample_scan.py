"""Rule sample_scan: the header pass of one chunk of a dataset's shards (candidates + counts)."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
from vlmbias.core import smk  # noqa: E402
from vlmbias.shards.manifest import read_manifest  # noqa: E402
from vlmbias.shards.sampler import scan_chunk  # noqa: E402

log = smk.setup(snakemake)
cfg = snakemake.params.sampling
if "manifest" in snakemake.input.keys():  # a user's shards, as listed when the workflow parsed
    shards = read_manifest(snakemake.input.manifest)
else:  # toy-world or converted shards, outputs of the DAG
    shards = list(snakemake.input.shards)
if snakemake.output.counts != snakemake.output.candidates + ".json":
    raise ValueError(f"rule sample_scan: counts must be {snakemake.output.candidates}.json")
chunk, n_chunks = int(snakemake.wildcards.chunk), int(snakemake.wildcards.n_chunks)
scan_chunk(snakemake.wildcards.dataset, shards, chunk, n_chunks, snakemake.output.candidates,
           seed=int(snakemake.params.seed), n_train=int(cfg["n_train"]), n_val=int(cfg["n_val"]),
           max_bad_fraction=float(snakemake.params.max_bad_fraction), source_split=cfg.get("source_split", "train"),
           splits=snakemake.params.splits)
log.info("%s: chunk %d of %d scanned", snakemake.wildcards.dataset, chunk + 1, n_chunks)
