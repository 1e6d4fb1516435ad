"""Many sketches: ``sketch_many`` (one engine, several images per optimisation), the inputs of
``clipasso batch`` (``inputs``), its results table (``table``) and the command itself (``command``).

The names below load on first use, so that building the command's parser (``command.add_parser``)
imports neither numpy nor Pillow."""
from .. import lazy_names

_LAZY = {"Item": ".inputs", "collect": ".inputs", "BatchResult": ".run", "sketch_many": ".run"}
__all__ = list(_LAZY)
__getattr__ = lazy_names(__name__, _LAZY)
