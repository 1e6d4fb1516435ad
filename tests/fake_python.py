"""A stand-in for Blender's Python (and the Python of the environment it makes) in tests of the
Blender add-on's Install Core (blender_addon/core_setup.py), without downloads: it answers the
commands Install Core runs.

    -c "import venv, ensurepip"     exit 0 (FAKE_NO_VENV set: exit 1)
    -m venv --clear ENV             makes ENV/bin/python, a copy of FAKE_PYTHON_LAUNCHER (the script
                                    that runs this file)
    -m pip install ... (--target D) prints pip-like lines; sleeps FAKE_PIP_SLEEP s between them;
                                    FAKE_PIP_FAIL=torch: fails installing torch like pip does
    -m clipasso_core info           the core's info event; FAKE_CORE_VERSION sets the version
    launcher.py info                the same (the --target layout)

Every call is appended to FAKE_PYTHON_LOG (one JSON list per line).
"""
import json
import os
import shutil
import sys
import time


def main(argv: list[str]) -> int:
    if os.environ.get("FAKE_PYTHON_LOG"):
        with open(os.environ["FAKE_PYTHON_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps([sys.argv[0], *argv]) + "\n")
    if argv[:1] == ["-c"]:
        return 1 if os.environ.get("FAKE_NO_VENV") else 0
    if argv[:2] == ["-m", "venv"]:
        env = argv[-1]
        os.makedirs(os.path.join(env, "bin"), exist_ok=True)
        for name in os.listdir(env):
            if name not in ("bin",):
                path = os.path.join(env, name)
                if os.path.isfile(path):
                    os.remove(path)
        target = os.path.join(env, "bin", "python")
        shutil.copy(os.environ["FAKE_PYTHON_LAUNCHER"], target)
        os.chmod(target, 0o755)
        return 0
    if argv[:3] == ["-m", "pip", "install"]:
        packages = [a for a in argv[3:] if not a.startswith("-") and "://" not in a]
        pause = float(os.environ.get("FAKE_PIP_SLEEP", "0"))
        for name in packages:
            print(f"Collecting {os.path.basename(name)}", flush=True)
            time.sleep(pause)
            if os.environ.get("FAKE_PIP_FAIL") and os.environ["FAKE_PIP_FAIL"] in name:
                print(f"ERROR: Could not find a version that satisfies the requirement {name}", flush=True)
                print(f"ERROR: No matching distribution found for {name}", flush=True)
                return 1
            print(f"  Downloading {os.path.basename(name)}-fake.whl (1.0 MB)", flush=True)
        print(f"Successfully installed {' '.join(packages)}", flush=True)
        return 0
    if argv[-1:] == ["info"]:
        version = os.environ.get("FAKE_CORE_VERSION", "0.1.0")
        print(json.dumps({"protocol": 1, "event": "info", "version": version}), flush=True)
        return 0
    print(f"fake_python: unexpected arguments {argv}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
