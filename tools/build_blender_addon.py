"""Build the Blender extension zip (blender_addon/ + the contract -> clipasso_sketch-<version>.zip).

    python tools/build_blender_addon.py [-o OUT_DIR]

The zip holds the add-on's files at its root, as Blender's extension installer expects, and a copy
of the contract (``clipasso_core/contract/``: its modules and PROTOCOL.md) as the subpackage
``contract/``, which the add-on imports relatively. Standard library only.
"""
from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADDON = ROOT / "blender_addon"
CONTRACT = ROOT / "clipasso_core" / "contract"
CONTRACT_PACKAGE = "contract"
"""The contract's folder inside the add-on (``from .contract import ...``)."""


def manifest_id_version() -> tuple[str, str]:
    manifest = (ADDON / "blender_manifest.toml").read_text(encoding="utf-8")
    ident = re.search(r'^id = "([^"]+)"', manifest, re.M).group(1)
    version = re.search(r'^version = "([^"]+)"', manifest, re.M).group(1)
    return ident, version


def zip_entries() -> list[tuple[Path, str]]:
    """(source file, name in the zip) of everything the extension holds."""
    addon = [(p, p.name) for p in sorted(ADDON.iterdir()) if p.is_file() and p.suffix in (".py", ".toml")]
    contract = [(p, f"{CONTRACT_PACKAGE}/{p.name}") for p in sorted(CONTRACT.iterdir())
                if p.is_file() and (p.suffix == ".py" or p.name == "PROTOCOL.md")]
    if not any(name == f"{CONTRACT_PACKAGE}/__init__.py" for _, name in contract):
        raise SystemExit(f"the contract is incomplete: no __init__.py in {CONTRACT}")
    if any(name == CONTRACT_PACKAGE or name.startswith(f"{CONTRACT_PACKAGE}.") for _, name in addon):
        raise SystemExit(f"blender_addon/ must not have its own {CONTRACT_PACKAGE} module")
    return addon + contract


def build(out: Path) -> Path:
    """Write the zip into ``out`` and return its path."""
    ident, version = manifest_id_version()
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{ident}-{version}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in zip_entries():
            archive.write(path, name)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="dist", help="output folder (default dist/)")
    args = parser.parse_args()
    print(build(Path(args.out)))


if __name__ == "__main__":
    main()
