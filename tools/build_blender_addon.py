"""Build the Blender extension zip (blender_addon/ -> clipasso_sketch-<version>.zip).

    python tools/build_blender_addon.py [-o OUT_DIR]

The zip holds the add-on's files at its root, as Blender's extension installer expects.
"""
from __future__ import annotations

import argparse
import re
import zipfile
from pathlib import Path

ADDON = Path(__file__).resolve().parents[1] / "blender_addon"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="dist", help="output folder (default dist/)")
    args = parser.parse_args()
    manifest = (ADDON / "blender_manifest.toml").read_text()
    ident = re.search(r'^id = "([^"]+)"', manifest, re.M).group(1)
    version = re.search(r'^version = "([^"]+)"', manifest, re.M).group(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{ident}-{version}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(ADDON.iterdir()):
            if path.suffix in (".py", ".toml"):
                archive.write(path, path.name)
    print(target)


if __name__ == "__main__":
    main()
