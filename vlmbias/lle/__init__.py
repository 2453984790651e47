"""LLE / Whac-A-Mole family (Li et al., "A Whac-A-Mole Dilemma: Shortcuts Come in Multiples
Where Mitigating One Amplifies Others", CVPR 2023; code: facebookresearch/Whac-A-Mole).

Modules: ``metrics`` (UrbanCars I.D. accuracy, BG / CoObj / BG+CoObj gaps, worst-group
accuracies, best-val-epoch selection, the tables' "xk" amplification marks, and the ImageNet
shortcut gaps) -- pure numpy, no torch; ``watermark`` (ImageNet-W's ``AddWatermark`` at the
model's input size and WTM Aug's random CJK watermark, on the ``imagenet-w`` package).
"""
