"""Build the Blender extension zip (blender_addon/ + the contract + the core wheel ->
clipasso_sketch-<version>.zip).

    python tools/build_blender_addon.py [-o OUT_DIR] [--core-python PYTHON]

A thin wrapper of ``clipasso_core.integrate_blender`` (which ``clipasso integrate blender`` runs),
imported from this checkout; standard library only, so any Python 3.11 runs it. Without
``--core-python`` the zip has no core preset: the user sets the core in the add-on's preferences or
presses its "Install Core".
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipasso_core.errors import InputError  # noqa: E402
from clipasso_core.integrate_blender import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="dist", help="output folder (default dist/, made when missing)")
    parser.add_argument("--core-python", help="preset the add-on to this Python with clipasso_core")
    args = parser.parse_args()
    try:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        print(build(out, args.core_python))
    except (InputError, OSError) as exc:
        sys.exit(f"build_blender_addon: error: {exc}")


if __name__ == "__main__":
    main()
