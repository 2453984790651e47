"""Rule zeroshot_clip: a CLIP's zero-shot top-1 on the config's zero-shot set, from its cached
image embeddings."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias.clip.load import load_clip  # noqa: E402
from vlmbias.clip.spec import class_names  # noqa: E402
from vlmbias.clip.templates import templates  # noqa: E402
from vlmbias.clip.zeroshot import zero_shot_from_cache  # noqa: E402
from vlmbias.core import smk  # noqa: E402
from vlmbias.core.device import pick_device  # noqa: E402
from vlmbias.core.io import write_json  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
zs = snakemake.params.zero_shot
bundle = load_clip(snakemake.params.spec, checkpoint=snakemake.input.get("weights"),
                   device=pick_device(snakemake.params.device), name=snakemake.wildcards.clip)
result = zero_shot_from_cache(bundle, snakemake.input.embeddings, class_names(zs["dataset_spec"]),
                              templates(zs["templates"]))
write_json(snakemake.output[0], {"model": bundle.name, "open_clip": bundle.arch, "weights": bundle.weights,
                                 "dataset": zs["dataset"], "split": zs["split"], "templates": zs["templates"],
                                 **result}, indent=2)
log.info("%s: zero-shot top-1 %.2f%% (chance %.2f%%)", bundle.name, result["top1"], result["chance"])
