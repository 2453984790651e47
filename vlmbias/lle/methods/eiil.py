"""EIIL, Environment Inference for Invariant Learning (Creager et al., 2021), with GroupDRO.

Official (facebookresearch/Whac-A-Mole ``urbancars_trainers/eiil.py``; ``launcher.py`` defaults
``--eiil_n_steps 10000``, ``--groupdro_robust_step_size 0.01``; after ecreager/eiil):

1. reference model: the classifier trained with plain mean CE (fresh SGD, the run's settings) for
   ``bias_id_epoch`` epochs (T = 1; the table also has T = 2);
2. in eval mode, the logits of the training set in order, and ``loss = CE(logits * scale, y)``
   per sample with a dummy ``scale = 1.0`` (requires grad), computed once and kept fixed;
3. ``env_w = randn(N)`` soft environment logits, ``Adam([env_w], lr=1e-3)``, for n_steps steps:
   for each class c, with the class's samples, ``lossa = mean(loss * sigmoid(env_w))``,
   ``lossb = mean(loss * (1 - sigmoid(env_w)))``, ``penalty_e = (d loss_e / d scale)**2``
   (IRMv1, ``autograd.grad(..., create_graph=True)``), and the class's term is
   ``-mean([penalty_a, penalty_b])``; the objective minimised is the sum over classes (i.e. the
   penalty is *maximised*), one Adam step per iteration over all of env_w;
4. hard envs ``sigmoid(env_w) > 0.5``; groups = ``2 * class + env`` (4 groups);
5. classifier and optimizer re-initialised; training with a group-balanced
   ``WeightedRandomSampler(len / group_count, replacement=True)`` and the official GroupDRO loss
   (``groupdro.GroupDROLoss``: group losses, q <- q·exp(0.01·group_loss) normalised, loss =
   group_loss @ q) for the full schedule.

Here: the same, with stage 1 a fresh ``ctx.new_model()`` through the one loop
(``jtt.train_reference``, plain CE), the logits from ``ctx.predict(model, ctx.eval_train_ds)``,
the environment optimisation on ``ctx.device`` in fp32, and step 5 by ``groupdro``'s objective
(balanced ``sample_weights`` + :class:`~vlmbias.lle.methods.groupdro.GroupDROLoss`). Deviations:

- the reference model's losses are computed on the training images with the eval transform (no
  random flip); the official predicts its training set with the training transform (random flip);
- ``env_w``'s initial randn comes from a generator seeded by the run's seed (the official draws
  it from the global RNG after the reference training), so it is reproducible;
- stage 1 uses the recipe's optimizer and learning-rate schedule (the official: SGD at the run's
  constant lr, as the UrbanCars recipe); GroupDRO's q updates per micro-batch when the recipe
  accumulates gradients (see ``groupdro``).

``info``: the environment sizes per class and the final penalty; the inferred groups are kept in
the objective's state (as the official checkpoint keeps ``hard_envs``), so a resumed run keeps
the groups it started with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import autograd

from vlmbias.lle.methods.base import Context, Setup
from vlmbias.lle.methods.groupdro import GroupDROObjective
from vlmbias.lle.methods.jtt import train_reference


def infer_environments(logits: torch.Tensor, labels: torch.Tensor, num_classes: int, n_steps: int,
                       lr: float = 1e-3, seed: int = 0,
                       device: torch.device | str = "cpu") -> tuple[torch.Tensor, float]:
    """(hard environment in {0, 1} of every sample, the final summed negated penalty): the
    official EIIL environment inference (module docstring, steps 2-4)."""
    device = torch.device(device)
    logits = torch.as_tensor(logits).float().to(device)
    labels = torch.as_tensor(labels, dtype=torch.long).to(device)
    scale = torch.tensor(1.0, device=device, requires_grad=True)
    loss = F.cross_entropy(logits * scale, labels, reduction="none")
    gen = torch.Generator().manual_seed(int(seed))
    env_w = torch.randn(len(loss), generator=gen).to(device).requires_grad_(True)
    optimizer = torch.optim.Adam([env_w], lr=lr)
    masks = [labels == c for c in range(num_classes)]
    last = 0.0
    for _ in range(int(n_steps)):
        total_n_penalty = 0
        for class_mask in masks:
            if not bool(class_mask.any()):
                continue
            loss_cur_class = loss[class_mask]
            env_w_cur_class = env_w[class_mask]
            lossa = (loss_cur_class * env_w_cur_class.sigmoid()).mean()
            grada = autograd.grad(lossa, [scale], create_graph=True)[0]
            penaltya = torch.sum(grada**2)
            lossb = (loss_cur_class * (1 - env_w_cur_class.sigmoid())).mean()
            gradb = autograd.grad(lossb, [scale], create_graph=True)[0]
            penaltyb = torch.sum(gradb**2)
            npenalty = -torch.stack([penaltya, penaltyb]).mean()
            total_n_penalty = total_n_penalty + npenalty
        optimizer.zero_grad(set_to_none=True)
        total_n_penalty.backward(inputs=[env_w], retain_graph=True)
        optimizer.step()
        last = float(total_n_penalty.detach())
    return (env_w.detach().sigmoid() > 0.5).long().cpu(), last


class EIILObjective(GroupDROObjective):
    """GroupDRO over the inferred class × environment groups; ``info`` also gets the
    environment sizes per class."""

    def set_groups(self, groups):
        super().set_groups(groups)
        sizes = self.info["group_sizes"]
        self.info["env_sizes"] = [sizes[2 * c: 2 * c + 2] for c in range(self.num_groups // 2)]


def setup(ctx: Context) -> Setup:
    epochs = float(ctx.params.get("bias_epochs", 1))
    n_steps = int(ctx.params.get("n_steps", 10000))
    ref = train_reference(ctx, "eiil_identify", epochs)
    logits = ctx.predict(ref, ctx.eval_train_ds).float().cpu()
    del ref
    labels = ctx.labels
    envs, npenalty = infer_environments(logits, labels, ctx.num_classes, n_steps,
                                        lr=float(ctx.params.get("lr", 1e-3)), seed=ctx.seed,
                                        device=ctx.device)
    info = {"bias_epochs": epochs, "n_steps": n_steps, "final_negated_penalty": npenalty}
    objective = EIILObjective(2 * labels + envs, 2 * ctx.num_classes,
                              float(ctx.params.get("dro_step_size", 0.01)), info)
    ctx.log(f"eiil: environments per class (env 0, env 1) {info['env_sizes']} after {n_steps} steps, "
            f"negated penalty {npenalty:.4g}")
    return Setup(model=ctx.new_model(), objective=objective, info=info)
