"""LLE, Last Layer Ensemble, on UrbanCars (official ``urbancars_trainers/lle.py``; research notes
§3.1, §3.3): the whole network trained end to end with K = 3 heads (original, BG Aug, CoObj Aug)
and a 3-way shift predictor on the shared features; each sample trains the head of its shift and
the predictor; inference weighs the heads' logits by the predicted shift probabilities.

Data: ``ConcatDataset[original, BG-aug, CoObj-aug]`` (``vlmbias.lle.shifts``), of which every
epoch draws |train| samples uniformly without replacement (about a third of each shift), as the
official ``WeightedRandomSampler`` with uniform weights. No shortcut label is read: only the
class labels and the stored masks.

Params (registry ``lle``): ``hflip`` (the flip of the composites' layers; default the recipe's).
"""

from __future__ import annotations

from vlmbias.lle.ensemble import LastLayerEnsemble, LLEObjective
from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.shifts import SHIFT_NAMES, UrbanCarsShifts


def setup(ctx: Context) -> Setup:
    hflip = ctx.params.get("hflip", (ctx.recipe.get("augment") or {}).get("hflip", 0.5))
    data = UrbanCarsShifts(ctx.train_ds, ctx.labels.tolist(), int(ctx.recipe["input_size"]),
                           ctx.mean, ctx.std, hflip=float(hflip))
    model = LastLayerEnsemble(ctx.new_model(), ctx.num_classes, len(SHIFT_NAMES))
    ctx.log(f"lle: {len(SHIFT_NAMES)} heads ({', '.join(SHIFT_NAMES)}) on {data.n} training images "
            f"x 3 shifts, {data.n} drawn per epoch")
    return Setup(model=model, objective=LLEObjective(data.shift_of), train_ds=data, epoch_samples=data.n,
                 info={"shifts": list(SHIFT_NAMES), "heads": len(SHIFT_NAMES), "hflip": float(hflip)})
