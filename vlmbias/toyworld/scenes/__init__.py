"""Components: content generators ``fn(rng, width, height) -> Content``, the ``COMPONENTS``
registry (``register_component``), by kind of scene:

* ``photos`` -- photo-like scenes (YFCC; also part of the web mix);
* ``graphics`` -- cartoons and illustrations (CC);
* ``web`` -- products, ads, stickers (DataComp and LAION);
* ``documents`` -- document pages (WIT);
* ``objects`` -- one centred object on a natural texture (ImageNet).

The labeled worlds' components are in ``vlmbias.toyworld.labeled``. The kinds are imported in
a fixed order below: it is the order of ``COMPONENTS``.
"""

from vlmbias.toyworld.scenes.base import (COMPONENTS, PEOPLE_VALUES, SETTING_VALUES, STYLE_VALUES, ComponentFn,
                                          Content, register_component)

# isort: off
# registration order of COMPONENTS
from vlmbias.toyworld.scenes import photos  # noqa: F401
from vlmbias.toyworld.scenes import graphics  # noqa: F401
from vlmbias.toyworld.scenes import web  # noqa: F401
from vlmbias.toyworld.scenes import documents  # noqa: F401
from vlmbias.toyworld.scenes import objects  # noqa: F401
# isort: on

__all__ = ["COMPONENTS", "PEOPLE_VALUES", "SETTING_VALUES", "STYLE_VALUES", "ComponentFn", "Content",
           "register_component"]
