"""The package: the public names, the torch-free ones eager and the rest lazy."""
from __future__ import annotations


def test_package_exports_the_sketch_function_not_the_module():
    import clipasso_core
    from clipasso_core import SketchConfig, sketch

    assert callable(sketch) and sketch.__module__ == "clipasso_core.pipeline"
    assert SketchConfig().preset == "default" and clipasso_core.Sketch.__name__ == "Sketch"
