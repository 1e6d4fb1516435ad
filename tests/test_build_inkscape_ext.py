"""tools/build_inkscape_ext.py: the files a user copies into Inkscape's extensions folder hold the
scripts, the .inx files and the contract (``clipasso_contract``), and import in a clean interpreter
without torch, numpy or the core; inkscape_ext/ itself defines no format, event or version."""
from __future__ import annotations

import filecmp
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from inkscape_bundle import ROOT, build_tool

EXT = ROOT / "inkscape_ext"
CONTRACT = ROOT / "clipasso_core" / "contract"
INKSCAPE_EXTENSIONS = Path("/usr/share/inkscape/extensions")
"""Where Debian's Inkscape keeps its own inkex (the one the extensions run with there)."""


def listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def expected_files() -> set[str]:
    scripts = {p.name for p in EXT.iterdir() if p.suffix in (".py", ".inx")}
    contract = {f"clipasso_contract/{p.name}" for p in CONTRACT.iterdir()
                if p.suffix == ".py" or p.name == "PROTOCOL.md"}
    return scripts | contract


def test_build_writes_the_folder_and_the_zip(tmp_path):
    out = tmp_path / "dist" / "inkscape"
    (out / "clipasso_contract").mkdir(parents=True)
    (out / "clipasso_contract" / "stale.py").write_text("")  # a contract module since removed
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "build_inkscape_ext.py"), "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    archive = tmp_path / "dist" / f"clipasso-inkscape-{build_tool.version()}.zip"
    assert run.stdout.split() == [str(out), str(archive)]
    assert listing(out) == expected_files()
    assert "clipasso_contract/__init__.py" in expected_files() and "clipasso_sketch.inx" in expected_files()
    for name in expected_files():
        source = CONTRACT / name.split("/")[1] if name.startswith("clipasso_contract/") else EXT / name
        assert filecmp.cmp(source, out / name, shallow=False), name
    with zipfile.ZipFile(archive) as bundle:
        names = set(bundle.namelist())
        assert names == {f"clipasso/{name}" for name in expected_files()}
        assert all(bundle.read(f"clipasso/{n}") == (out / n).read_bytes() for n in expected_files())


def test_version_is_the_project_version():
    assert build_tool.version() == re.search(r'^__version__ = "([^"]+)"',
                                             (ROOT / "clipasso_core" / "__init__.py").read_text(), re.M).group(1)


def test_inkscape_ext_defines_no_format_event_or_version():
    assert not (EXT / "clipasso_contract").exists()
    own = re.compile(r'PROTOCOL_VERSION *=|"clipasso-sketch"|SKETCH_VERSION *=|^class CoreError|'
                     r'^def (cubic_point|cubic_tangent|width_profile|hex_to_rgb|rgb_to_hex|hex_color)\b', re.M)
    for path in EXT.iterdir():
        if path.suffix == ".py":
            assert not own.search(path.read_text()), f"{path.name}: {own.search(path.read_text()).group(0)}"


def run_isolated(python: str, bundle: Path, code: str, extra_path: tuple[str, ...] = (),
                 blocked: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``code`` in ``python -I`` whose sys.path is the bundle, ``extra_path`` and the standard
    library only; modules in ``blocked`` cannot be imported."""
    prelude = textwrap.dedent(f"""
        import sys
        sys.path[:] = [{str(bundle)!r}, *{list(extra_path)!r},
                       *[p for p in sys.path if p and not p.endswith(("site-packages", "dist-packages"))]]
        for name in {list(blocked)!r}:
            sys.modules[name] = None
        """)
    return subprocess.run([python, "-I", "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder, _ = build_tool.build(tmp_path_factory.mktemp("bundle") / "clipasso", zip_dir=None)
    return folder


def test_contract_and_bridge_import_with_the_standard_library_only(bundle):
    run = run_isolated(sys.executable, bundle, f"""
        import clipasso_contract, clipasso_bridge
        from clipasso_contract import client, events, formats, geometry, options
        for module in (clipasso_contract, clipasso_bridge):
            assert module.__file__.startswith({str(bundle)!r}), module.__file__
        sketch = formats.Sketch(10, 10, [formats.Stroke([(0, 0), (1, 1), (2, 1), (3, 0)])])
        assert formats.Sketch.from_json(sketch.to_json()) == sketch
        assert clipasso_bridge.outline_d(sketch.strokes[0].points, 2.0, "tapered").endswith("Z")
        print(sorted(m for m, mod in sys.modules.items() if mod is not None and m.startswith("clipasso")))
        """, blocked=("torch", "numpy", "PIL", "inkex", "lxml", "clipasso_core"))
    assert run.returncode == 0, run.stderr
    assert "clipasso_contract.client" in run.stdout and "clipasso_core" not in run.stdout


@pytest.mark.skipif(not (INKSCAPE_EXTENSIONS / "inkex").is_dir() or not Path("/usr/bin/python3").exists(),
                    reason="Inkscape's own inkex (Debian's inkscape package) not installed")
def test_effects_import_with_inkscapes_python_and_inkex(bundle):
    """What Inkscape runs: its python3 with its own inkex (1.2 on Debian 12), no torch, no core."""
    run = run_isolated("/usr/bin/python3", bundle, f"""
        sys.path[1:1] = ["/usr/lib/python3/dist-packages"]  # lxml, numpy: inkex's own dependencies
        import clipasso_sketch, clipasso_restyle, inkex
        assert inkex.__file__.startswith({str(INKSCAPE_EXTENSIONS)!r}), inkex.__file__
        assert clipasso_sketch.__file__.startswith({str(bundle)!r})
        sketch = clipasso_sketch.SketchFromImage()
        sketch.parse_arguments(["--strokes", "20", "--color", "4278190335"])
        assert sketch._core_options(3.0)[:2] == ["--strokes", "20"], sketch._core_options(3.0)
        assert "#ff0000" in sketch._core_options(3.0)
        restyle = clipasso_restyle.RestyleSketch()
        restyle.parse_arguments(["--brush", "tapered"])
        print(inkex.__version__)
        """, extra_path=(str(INKSCAPE_EXTENSIONS),), blocked=("torch", "clipasso_core"))
    assert run.returncode == 0, run.stderr


def test_the_tool_is_a_thin_wrapper_of_the_standard_library_only_package_module(tmp_path):
    """The bundle logic lives in clipasso_core.integrate_inkscape (what ``clipasso integrate
    inkscape`` installs from); it imports without torch, numpy or Pillow."""
    tool = (ROOT / "tools" / "build_inkscape_ext.py").read_text()
    assert "zipfile" not in tool and "copyfile" not in tool and "integrate_inkscape" in tool
    run = run_isolated(sys.executable, tmp_path, f"""
        from clipasso_core import integrate_inkscape as ii
        folder, archive = ii.build({str(tmp_path / "out")!r}, {str(tmp_path)!r})
        heavy = ("torch", "numpy", "PIL")
        print(sorted(m for m, mod in sys.modules.items() if mod is not None and m.split(".")[0] in heavy))
        print(archive)
        """, extra_path=(str(ROOT),), blocked=("torch", "numpy", "PIL"))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "[]"
    assert listing(tmp_path / "out") == expected_files()
