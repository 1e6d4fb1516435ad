"""Build the Inkscape extensions as a user installs them (scripts, .inx files, clipasso_contract/).

The bundle holds the effect modules, their .inx files and the contract they import
(``clipasso_core/contract/`` carried as the package ``clipasso_contract``).

    python tools/build_inkscape_ext.py [-o DIR] [--zip-dir ZIP_DIR]

Writes the files into DIR (default dist/inkscape/; copy its content into Inkscape's user extensions
folder) and the same files under a folder ``clipasso/`` in ZIP_DIR/clipasso-inkscape-<version>.zip
(ZIP_DIR defaults to DIR's parent, so dist/ by default). Inkscape puts a script's folder on
sys.path, which is how the extensions find ``clipasso_contract``. Standard library only.
"""
from __future__ import annotations

import argparse
import re
import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "inkscape_ext"
CONTRACT = ROOT / "clipasso_core" / "contract"
PACKAGE = "clipasso_contract"
"""The contract's package name next to the extension scripts."""
ZIP_FOLDER = "clipasso"
"""The folder the zip holds everything under (extract it into the user extensions folder)."""


def version() -> str:
    """The project's version (pyproject.toml), which the bundle is named after."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = re.search(r"^\[project\]$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1) if project else "", re.M)
    if not found:
        raise SystemExit("no [project] version in pyproject.toml")
    return found.group(1)


def sources() -> list[tuple[Path, str]]:
    """(source file, path in the bundle) of every file a user installs."""
    files = [(p, p.name) for p in sorted(EXT.iterdir()) if p.suffix in (".py", ".inx") and p.is_file()]
    contract = [p for p in sorted(CONTRACT.iterdir()) if p.is_file() and (p.suffix == ".py" or p.name == "PROTOCOL.md")]
    if not any(p.name == "__init__.py" for p in contract):
        raise SystemExit(f"{CONTRACT} has no __init__.py")
    return files + [(p, f"{PACKAGE}/{p.name}") for p in contract]


def build(out: Path, zip_dir: Path | None = None) -> tuple[Path, Path | None]:
    """Write the bundle into ``out`` and, unless ``zip_dir`` is None, the zip into ``zip_dir``.
    Returns (folder, zip path or None). Only the bundle's own files in ``out`` are replaced."""
    out = Path(out)
    files = sources()
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / PACKAGE, ignore_errors=True)  # no stale contract modules
    (out / PACKAGE).mkdir()
    for source, name in files:
        shutil.copyfile(source, out / name)
    archive_path = None
    if zip_dir is not None:
        zip_dir = Path(zip_dir)
        zip_dir.mkdir(parents=True, exist_ok=True)
        archive_path = zip_dir / f"clipasso-inkscape-{version()}.zip"
        with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
            for _, name in files:
                archive.write(out / name, f"{ZIP_FOLDER}/{name}")
    return out, archive_path


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
