"""B2T (Kim, Mo et al., "Discovering and Mitigating Visual Biases through Keyword Explanation",
CVPR 2024): t11-t13. So far: the keywords of a class's mispredicted captions and their scores
(``keywords``)."""
