"""Lowerings from IR operators to TinyEngine kernel calls.

Every module of this package registers its lowerings with `@lowers` when
imported; importing the package imports them all.
"""

import importlib
import pkgutil

from .base import LOWERINGS, Alias, KernelCall, LoweringContext

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["LOWERINGS", "Alias", "KernelCall", "LoweringContext"]
