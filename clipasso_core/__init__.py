"""clipasso_core: turn a picture of an object into an abstract line sketch (CLIPasso).

    from clipasso_core import sketch, SketchConfig
    result = sketch("cat.jpg", SketchConfig(strokes=16))
    Path("cat.svg").write_text(to_svg(result))

The names that need torch (``sketch``, ``SketchConfig``, ``PRESETS``) are imported on first use, so
the ``clipasso`` command can take a Ctrl-C while torch is still loading.
"""
from importlib import import_module

from .errors import ClipassoError, InputError, ModelUnavailableError
from .sketch_data import Sketch, Stroke
from .svg import from_svg, to_svg

__version__ = "0.1.0"

_LAZY = {"sketch": ".pipeline", "SketchConfig": ".config", "PRESETS": ".config"}
__all__ = ["sketch", "SketchConfig", "PRESETS", "Sketch", "Stroke", "to_svg", "from_svg",
           "ClipassoError", "InputError", "ModelUnavailableError", "__version__"]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
