"""clipasso_core: turn a picture of an object into an abstract line sketch (CLIPasso).

    from clipasso_core import sketch, SketchConfig, to_svg
    result = sketch("cat.jpg", SketchConfig(strokes=16))
    Path("cat.svg").write_text(to_svg(result))
    frames = animate("walk.mp4", SketchConfig(strokes=16))     # a SketchSequence
    for done in sketch_many(["photos/"], SketchConfig(), batch_size=4): ...   # one BatchResult per image
    Path("walk.svg").write_text(to_animated_svg(frames))

Only the torch-free names (errors, the ``Sketch``/``Stroke`` data of ``clipasso_core.contract``) are
imported eagerly; the rest on first use, so ``clipasso_core.contract`` imports without torch or
numpy and the ``clipasso`` command can take a Ctrl-C while torch is still loading.
"""
from importlib import import_module

from .contract.formats import Sketch, Stroke
from .errors import ClipassoError, InputError, ModelUnavailableError

__version__ = "0.1.0"

_LAZY = {"sketch": ".pipeline", "animate": ".animation", "SketchConfig": ".config", "PRESETS": ".config",
         "to_svg": ".svg", "from_svg": ".svg", "to_animated_svg": ".svg_animation",
         "SketchSequence": ".contract.sequence", "Encoders": ".backbones", "SketchEncoder": ".backbones",
         "sketch_many": ".batch"}
__all__ = ["sketch", "sketch_many", "animate", "SketchConfig", "PRESETS", "Sketch", "Stroke", "SketchSequence", "to_svg",
           "from_svg", "to_animated_svg", "Encoders", "SketchEncoder",
           "ClipassoError", "InputError", "ModelUnavailableError", "__version__"]


def lazy_names(package: str, table: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports each name of ``table`` (name -> module,
    relative to the package) on first use and keeps it in the package."""
    import sys

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(table[name], package), name)
        setattr(sys.modules[package], name, value)
        return value
    return __getattr__


__getattr__ = lazy_names(__name__, _LAZY)
