"""Rule zeroshot_clip: a CLIP's zero-shot top-1 on the config's zero-shot set, from its cached
image embeddings."""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(snakemake.scriptdir).parent))
import torch  # noqa: E402

from vlmbias import clip, embed, smk  # noqa: E402
from vlmbias.train import pick_device  # noqa: E402

log = smk.setup(snakemake)
torch.set_num_threads(snakemake.threads)
zs = snakemake.params.zero_shot
bundle = clip.load_clip(snakemake.params.spec, checkpoint=snakemake.input.get("weights"),
                        device=pick_device(snakemake.params.device), name=snakemake.wildcards.clip)
result = embed.zero_shot_from_cache(bundle, snakemake.input.embeddings, zs["classnames"],
                                    clip.templates(zs["templates"]))
out = {"model": bundle.name, "open_clip": bundle.arch, "weights": bundle.weights,
       "dataset": zs["dataset"], "split": zs["split"], "templates": zs["templates"], **result}
with open(snakemake.output[0], "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
log.info("%s: zero-shot top-1 %.2f%% (chance %.2f%%)", bundle.name, result["top1"], result["chance"])
