"""Training: the one loop (``loop``), the recipe as timm objects (``recipe``), the model factory
(``models``), corruptions of train and val images (``corruptions``), and the seam where a
method plugs in its objective and sample weighting (``objectives``)."""
