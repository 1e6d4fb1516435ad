"""The Inkscape extensions as a user installs them, for the tests: built once per test process by
tools/build_inkscape_ext.py into a temporary folder (the scripts, the .inx files and the contract
as ``clipasso_contract/``), which is put first on sys.path as Inkscape does with a script's folder.
``inkscape_ext/`` itself does not hold the contract, so its modules are never imported from there."""
from __future__ import annotations

import atexit
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("build_inkscape_ext", ROOT / "tools" / "build_inkscape_ext.py")
build_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_tool)

BUNDLE = Path(tempfile.mkdtemp(prefix="clipasso-inkscape-"))
"""The built folder: what a user copies into Inkscape's user extensions folder."""
atexit.register(shutil.rmtree, BUNDLE, True)
build_tool.build(BUNDLE)
if str(BUNDLE) not in sys.path:
    sys.path.insert(0, str(BUNDLE))
