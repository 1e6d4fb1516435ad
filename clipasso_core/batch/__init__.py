"""Many sketches: ``sketch_many`` (one engine, several images per optimisation), the inputs of
``clipasso batch`` (``inputs``), its results table (``table``) and the command itself (``command``).

The names below load on first use, so that building the command's parser (``command.add_parser``)
imports neither numpy nor Pillow."""
from importlib import import_module

_LAZY = {"Item": ".inputs", "collect": ".inputs", "BatchResult": ".run", "sketch_many": ".run"}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
