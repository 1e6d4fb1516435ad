"""clipasso_core: turn a picture of an object into an abstract line sketch (CLIPasso).

    from clipasso_core import sketch, SketchConfig
    result = sketch("cat.jpg", SketchConfig(strokes=16))
    Path("cat.svg").write_text(to_svg(result))
"""
__version__ = "0.1.0"

from .config import PRESETS, SketchConfig  # noqa: E402
from .errors import ClipassoError, InputError, ModelUnavailableError  # noqa: E402
from .pipeline import sketch  # noqa: E402
from .sketch import Sketch, Stroke  # noqa: E402
from .svg import from_svg, to_svg  # noqa: E402

__all__ = ["sketch", "SketchConfig", "PRESETS", "Sketch", "Stroke", "to_svg", "from_svg",
           "ClipassoError", "InputError", "ModelUnavailableError", "__version__"]
