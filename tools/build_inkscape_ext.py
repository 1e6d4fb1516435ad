"""Build the Inkscape extensions as a user installs them (scripts, .inx files, clipasso_contract/).

A thin wrapper around ``clipasso_core.integrate_inkscape`` (which ``clipasso integrate inkscape``
installs from), building from this checkout's ``inkscape_ext/``:

    python tools/build_inkscape_ext.py [-o DIR] [--zip-dir ZIP_DIR] [--no-zip]

Writes the files into DIR (default dist/inkscape/; copy its content into Inkscape's user extensions
folder) and the same files under a folder ``clipasso/`` in ZIP_DIR/clipasso-inkscape-<version>.zip
(ZIP_DIR defaults to DIR's parent, so dist/ by default). Standard library only.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "inkscape_ext"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from clipasso_core import integrate_inkscape  # noqa: E402
from clipasso_core.integrate_inkscape import CONTRACT, PACKAGE, ZIP_FOLDER, version  # noqa: E402,F401


def sources():
    """(source file, path in the bundle) of every file a user installs, from this checkout."""
    return integrate_inkscape.sources(EXT)


def build(out: Path, zip_dir: Path | None = None):
    """Write the bundle of this checkout into ``out`` (and the zip into ``zip_dir`` unless None)."""
    return integrate_inkscape.build(out, zip_dir, ext_dir=EXT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default=str(ROOT / "dist" / "inkscape"),
                        help="folder to write the extension files into (default dist/inkscape/)")
    parser.add_argument("--zip-dir", help="folder for clipasso-inkscape-<version>.zip (default: the "
                                          "output folder's parent)")
    parser.add_argument("--no-zip", action="store_true", help="write the folder only")
    args = parser.parse_args()
    out = Path(args.out).resolve()
    zip_dir = None if args.no_zip else Path(args.zip_dir) if args.zip_dir else out.parent
    folder, archive = build(out, zip_dir)
    print(folder)
    if archive:
        print(archive)


if __name__ == "__main__":
    main()
