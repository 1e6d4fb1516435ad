"""clipasso_core: turn a picture of an object into an abstract line sketch (CLIPasso).

    from clipasso_core import sketch, SketchConfig
    result = sketch("cat.jpg", SketchConfig(strokes=16))
    Path("cat.svg").write_text(to_svg(result))

The public names are imported on first use (so the ``clipasso`` command can take a Ctrl-C while
torch is still loading).
"""
from importlib import import_module

__version__ = "0.1.0"

_PUBLIC = {"sketch": ".pipeline", "SketchConfig": ".config", "PRESETS": ".config", "Sketch": ".sketch",
           "Stroke": ".sketch", "to_svg": ".svg", "from_svg": ".svg", "ClipassoError": ".errors",
           "InputError": ".errors", "ModelUnavailableError": ".errors"}
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name], __name__), name)
