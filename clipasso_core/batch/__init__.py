"""Many sketches: ``sketch_many`` (one engine, several images per optimisation), the inputs of
``clipasso batch`` (``inputs``), its results table (``table``) and the command itself (``command``)."""
from .inputs import Item, collect
from .run import BatchResult, sketch_many

__all__ = ["Item", "collect", "BatchResult", "sketch_many"]
