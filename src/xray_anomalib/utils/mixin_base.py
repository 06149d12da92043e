"""The base class that mixins of ``AnomalibModule`` declare for type checkers: ``object`` at run time.

A mixin's hooks call ``super()`` and read ``self.trainer``; declaring ``AnomalibModule`` as its base for the type
checker only lets those be checked without putting a second ``AnomalibModule`` into the method resolution order.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anomalib.models import AnomalibModule as ModuleMixinBase
else:
    ModuleMixinBase = object

__all__ = ["ModuleMixinBase"]
