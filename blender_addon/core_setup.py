"""Which core the add-on runs, and "Install Core": a private environment of the core and torch in the
extension's user folder, made with Blender's own Python (bpy-free: ``operators`` and ``ui`` drive it).

Which core runs (``find_core``), first found wins:

1. the preferences' "Python with clipasso_core", when the user set it;
2. the preferences' "clipasso executable";
3. the core "Install Core" made (a complete private environment);
4. the interpreter of ``clipasso integrate blender`` (the zip's ``core_preset.json``, which is also
   the default shown in "Python with clipasso_core");
5. ``clipasso`` on PATH.

Install Core, steps run one after another (``Installer``), each a process whose output is read line
by line for the status bar:

1. ``python -m venv --clear ENV`` with Blender's Python (``sys.executable``): a fresh environment
   each time, so running it again repairs whatever a cancelled or failed install left;
2. torch and torchvision (pinned as the core's README does) from the torch build's index;
3. the core from the wheel the extension zip carries (its other dependencies from the package index);
4. ``clipasso info``: the environment works. Only then is it marked complete (``MARKER``) and used.

When Blender's Python has no ``venv``/``ensurepip``, torch and the core go into ``ENV/site`` with one
``pip install --target`` of Blender's own pip, and the core runs as ``python ENV/launcher.py`` (which
puts that folder first on ``sys.path``).
"""
from __future__ import annotations

import glob
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from .contract import client, events
from .job_logic import PREFERENCES

HERE = os.path.dirname(os.path.abspath(__file__))
PRESET_FILE = "core_preset.json"
"""Written into the zip by ``clipasso integrate blender`` (clipasso_core/integrate_blender.py)."""
WHEEL_FOLDER = "core"
"""The zip's folder of the core wheel (clipasso_core/integrate_blender.py puts it there)."""
ENV_FOLDER = "core-env"
"""The private environment, inside the extension's user folder."""
MARKER = "clipasso-install.json"
"""In the environment: what was installed; ``"complete": true`` once it all worked."""
LOG_FILE = "install.log"
"""In the extension's user folder: the whole output of the last Install Core."""
TORCH_REQUIREMENTS = ("torch==2.14.1", "torchvision==0.29.1")
"""The torch the core is tested with (the README's pin)."""
TORCH_BUILDS = [
    ("CPU", "CPU", "Runs everywhere; slowest"),
    ("CUDA", "NVIDIA GPU (CUDA)", "For an NVIDIA graphics card with a current driver"),
    ("MACOS", "Apple (macOS)", "The macOS build (Apple GPUs through Metal where the core supports them)"),
]
"""Blender enum items of the torch builds Install Core offers."""
PYPI = "https://pypi.org/simple"
"""The package index of the core's other dependencies when torch comes from another one (--target)."""
TORCH_INDEX = {
    ("CPU", "linux"): "https://download.pytorch.org/whl/cpu",
    ("CPU", "win32"): "https://download.pytorch.org/whl/cpu",
    ("CUDA", "win32"): "https://download.pytorch.org/whl/cu130",
}
"""(build, platform) -> the package index of that torch build; not listed: the package index pip
uses anyway (PyPI's torch is the CUDA build on Linux, the CPU build on Windows, the Metal one on macOS)."""


def platform_key() -> str:
    return "win32" if sys.platform == "win32" else "darwin" if sys.platform == "darwin" else "linux"


def default_torch_build() -> str:
    """The torch build this computer most likely wants: macOS, CUDA when an NVIDIA driver is
    present, else CPU."""
    if platform_key() == "darwin":
        return "MACOS"
    if shutil.which("nvidia-smi") or os.path.exists("/proc/driver/nvidia/version"):
        return "CUDA"
    return "CPU"


def torch_index(build: str, override: str = "") -> str:
    """The index URL torch is installed from ("" = pip's own index)."""
    return override.strip() or TORCH_INDEX.get((build, platform_key()), "")


def read_preset(folder: str = HERE) -> dict:
    """The zip's core preset ({} when there is none or it is unreadable)."""
    try:
        with open(os.path.join(folder, PRESET_FILE), encoding="utf-8") as handle:
            preset = json.load(handle)
    except (OSError, ValueError):
        return {}
    return preset if isinstance(preset, dict) else {}


def preset_python(folder: str = HERE) -> str:
    python = read_preset(folder).get("python")
    return python if isinstance(python, str) else ""


def core_wheel(folder: str = HERE) -> str:
    """The core wheel the extension carries ("" when it has none)."""
    found = sorted(glob.glob(os.path.join(folder, WHEEL_FOLDER, "clipasso-*.whl")))
    return found[-1] if found else ""


# the private environment


def env_python(env: str) -> str:
    """The Python of a venv at ``env``."""
    if platform_key() == "win32":
        return os.path.join(env, "Scripts", "python.exe")
    return os.path.join(env, "bin", "python")


def site_folder(env: str) -> str:
    """The package folder of an environment made with ``pip install --target``."""
    return os.path.join(env, "site")


def launcher_path(env: str) -> str:
    return os.path.join(env, "launcher.py")


LAUNCHER = '''"""Runs the clipasso core from the packages in the folder "site" beside this file (made by the
Clipasso Sketch add-on's Install Core with pip install --target)."""
import os
import runpy
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "site"))
runpy.run_module("clipasso_core", run_name="__main__", alter_sys=True)
'''


def read_marker(env: str) -> dict:
    try:
        with open(os.path.join(env, MARKER), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_marker(env: str, data: dict) -> None:
    path = os.path.join(env, MARKER)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
    os.replace(tmp, path)


def installed_command(env: str) -> list[str] | None:
    """The command of the core Install Core made, when that environment is complete."""
    marker = read_marker(env)
    if not marker.get("complete"):
        return None
    command = marker.get("command")
    if not (isinstance(command, list) and command and all(isinstance(c, str) for c in command)):
        return None
    return command if os.path.isfile(command[0]) else None


def install_state(env: str) -> str:
    """"complete", "incomplete" (a cancelled or failed install: run Install Core again) or "none"."""
    if installed_command(env):
        return "complete"
    return "incomplete" if os.path.exists(env) else "none"


class SetupError(client.CoreError):
    """No core can be run, or Install Core cannot start; the message says what to do in Blender."""


@dataclass
class Core:
    """The core to run: its command prefix and where it came from (for the preferences)."""

    command: list[str]
    source: str


def find_core(python_path: str, core_path: str, env: str, preset: str = "") -> Core:
    """The core to run (see the module's docstring); SetupError naming what to do in Blender.
    ``python_path`` equal to ``preset`` is the integrate preset (the field's default), which a core
    made by Install Core overrides; any other value is the user's and wins."""
    preset_in_use = bool(preset) and python_path == preset
    if python_path and not preset_in_use:
        if not (os.path.isfile(python_path) and os.access(python_path, os.X_OK)):
            raise SetupError(f"the Python set in {PREFERENCES} > Python with clipasso_core does not exist: "
                             f"{python_path}. Set another, clear the field, or press Install Core there")
        return Core(client.core_command(python=python_path), "Python with clipasso_core")
    if core_path:
        if not os.path.isfile(core_path):
            raise SetupError(f"the clipasso executable set in {PREFERENCES} does not exist: {core_path}. "
                             "Set another, clear the field, or press Install Core there")
        return Core(client.core_command(executable=core_path), "clipasso executable")
    installed = installed_command(env) if env else None
    if installed:
        return Core(installed, "Install Core")
    if preset_in_use:
        if not (os.path.isfile(python_path) and os.access(python_path, os.X_OK)):
            raise SetupError(f"the core this add-on was preset to (clipasso integrate blender) is gone: "
                             f"{python_path}. Press Install Core in {PREFERENCES}, or set the Python that has "
                             "clipasso_core there")
        return Core(client.core_command(python=python_path), "preset by clipasso integrate blender")
    if shutil.which("clipasso"):
        return Core(client.core_command(), "clipasso on PATH")
    unfinished = " (the last install did not finish: press it again)" if env and os.path.exists(env) else ""
    raise SetupError(f"no clipasso core yet: press Install Core in {PREFERENCES}{unfinished}, or set the "
                     "Python that has clipasso_core there")


CHECK_TIMEOUT = 300


def check(command: list[str], timeout: float = CHECK_TIMEOUT) -> list[str]:
    """What the core says about itself, one line each for the preferences: ``clipasso info --check``
    (the core's version, torch, the device, the CLIP weights); a core without ``--check`` gets
    ``clipasso info`` (the version) and a line saying it cannot tell more. CoreError when it fails."""
    try:
        done = subprocess.run([*command, "info", "--check"], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, errors="replace")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise client.CoreError(f"could not run the core ({' '.join(command)}): {exc}") from None
    lines = [line.rstrip() for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 and "--check" in done.stderr:  # a core from before info --check
        version = client.check_core(command, timeout)
        return [f"clipasso core: {version}", "(this core cannot tell torch, the device or the weights: update it)"]
    try:
        info = events.from_line(lines[-1]) if lines else None
    except events.ProtocolMismatch as exc:
        raise client.CoreError(str(exc)) from None
    except Exception:
        info = None
    if done.returncode != 0 or not isinstance(info, events.Info):
        detail = (done.stderr.strip().splitlines() or lines or ["no output"])[-1]
        raise client.CoreError(f"'{' '.join(command)}' is not a working clipasso core: {detail}")
    found = lines[:-1]
    if not any(line.startswith("clipasso") for line in found):
        found.insert(0, f"clipasso core: {info.version}")
    return found


# Install Core


@dataclass
class Step:
    """One process of Install Core: its title for the status bar and its command line (None: the
    core's ``info``, once the environment exists)."""

    title: str
    command: list[str] | None


def venv_available(python: str) -> bool:
    """Whether ``python`` can make a venv with pip in it (``venv`` and ``ensurepip``)."""
    try:
        done = subprocess.run([python, "-c", "import venv, ensurepip"], capture_output=True, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def install_plan(python: str, env: str, wheel: str, build: str, index_url: str, use_venv: bool = True):
    """(steps, core) of Install Core into ``env`` with Blender's Python ``python``: torch ``build`` from
    ``index_url`` ("" = pip's own index), the core from ``wheel``. ``core()``: the core's command,
    once the steps made the environment (the contract's ``core_command`` checks it exists)."""
    pip_options = ["--progress-bar", "off", "--disable-pip-version-check", "--no-input"]
    torch_source = ["--index-url", index_url] if index_url else []
    label = dict((key, name) for key, name, _ in TORCH_BUILDS).get(build, build)
    if use_venv:
        target = env_python(env)
        steps = [Step("making the environment", [python, "-m", "venv", "--clear", env])]
        pip = [target, "-m", "pip", "install", *pip_options]
        steps.append(Step(f"installing torch ({label})", [*pip, *torch_source, *TORCH_REQUIREMENTS]))
        steps.append(Step("installing the core", [*pip, wheel]))

        def core() -> list[str]:
            return client.core_command(python=target)
    else:  # Blender's Python has no venv: its own pip, everything in one go (pip --target sees
        # nothing already in the folder), into ENV/site
        site = site_folder(env)
        extra = ["--extra-index-url", PYPI] if index_url else []
        steps = [Step(f"installing torch ({label}) and the core",
                      [python, "-m", "pip", "install", *pip_options, "--target", site, *torch_source, *extra,
                       *TORCH_REQUIREMENTS, wheel])]

        def core() -> list[str]:
            return [python, launcher_path(env)]
    steps.append(Step("checking the core", None))
    return steps, core


def line_status(line: str, width: int = 90) -> str:
    """A line of pip's output, shortened for the status bar ("" for lines not worth showing)."""
    text = " ".join(line.split())
    if not text or text.startswith(("WARNING: Location", "Looking in indexes", "Looking in links")):
        return ""
    return text if len(text) <= width else text[: width - 3] + "..."


class Installer:
    """Install Core, run step by step from a timer (``step``: RUNNING, FINISHED, FAILED, CANCELLED).

    ``status`` is the status bar text; ``error`` says why it failed. ``cancel`` (Esc) kills the
    running process; the environment is then left unmarked (not used) and Install Core run again
    makes it afresh. The whole output goes to ``log``."""

    RUNNING, FINISHED, FAILED, CANCELLED = "RUNNING", "FINISHED", "FAILED", "CANCELLED"

    def __init__(self, python: str, user_folder: str, wheel: str, build: str, index_url: str,
                 use_venv: bool | None = None):
        if not wheel or not os.path.isfile(wheel):
            raise SetupError("this copy of the add-on carries no core to install (core/clipasso-*.whl is missing "
                             "from its zip): reinstall it from a zip made by 'clipasso integrate blender' or "
                             "tools/build_blender_addon.py")
        if not python or not os.path.isfile(python):
            raise SetupError(f"Blender's Python was not found ({python or 'sys.executable is empty'})")
        self.env = os.path.join(user_folder, ENV_FOLDER)
        self.log_path = os.path.join(user_folder, LOG_FILE)
        if use_venv is None:
            use_venv = venv_available(python)
        self.steps, self._core = install_plan(python, self.env, wheel, build, index_url, use_venv)
        self.command: list[str] = []
        self.use_venv = use_venv
        self.build, self.index_url, self.wheel = build, index_url, wheel
        self.state = self.RUNNING
        self.error = ""
        self.status = "Install Core: starting..."
        self.progress = 0.0
        self.started = time.monotonic()
        self.index = -1
        self.process: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self._last = ""
        self._tail: list[str] = []
        self.version = ""
        os.makedirs(user_folder, exist_ok=True)
        self.log = open(self.log_path, "w", encoding="utf-8")
        try:
            if os.path.exists(self.env):  # what is there stops counting before anything else happens
                try:
                    os.remove(os.path.join(self.env, MARKER))
                except FileNotFoundError:
                    pass
            if not use_venv:
                shutil.rmtree(self.env, ignore_errors=True)
                os.makedirs(self.env)
                with open(launcher_path(self.env), "w", encoding="utf-8") as handle:
                    handle.write(LAUNCHER)
            self._next()
        except BaseException:
            self.close()
            raise

    def _next(self) -> None:
        self.index += 1
        step = self.steps[self.index]
        self._tail = []
        try:
            command = step.command or [*self._core(), "info"]
        except client.CoreError as exc:
            raise SetupError(f"Install Core made no working environment: {exc}") from None
        self.log.write(f"\n$ {' '.join(command)}\n")
        self.log.flush()
        posix = sys.platform != "win32"
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, encoding="utf-8", errors="replace", bufsize=1, env=self._environment(),
                start_new_session=posix,
                creationflags=0 if posix else subprocess.CREATE_NEW_PROCESS_GROUP)
        except OSError as exc:
            raise SetupError(f"Install Core could not start {command[0]}: {exc.strerror or exc}") from None
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self._set_status("")

    @staticmethod
    def _environment() -> dict:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"  # pip's lines as they come
        env.pop("PYTHONPATH", None)  # nothing of Blender's own packages in the new environment
        env.pop("PYTHONHOME", None)
        return env

    def _read(self, process: subprocess.Popen) -> None:
        try:
            for line in process.stdout:
                self._lines.put(line)
        except (OSError, ValueError):
            pass
        process.wait()
        self._lines.put(None)

    def _set_status(self, line: str) -> None:
        if line:
            self._last = line
        elapsed = time.monotonic() - self.started
        title = self.steps[self.index].title
        self.status = (f"Install Core {self.index + 1}/{len(self.steps)}: {title}  {self._last}  "
                       f"({elapsed:.0f} s; Esc: stop)")
        self.progress = (self.index + 0.5) / len(self.steps)

    def step(self) -> str:
        """Take in the output that arrived; start the next step when one ended. The state after."""
        if self.state != self.RUNNING:
            return self.state
        ended = False
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                ended = True
                break
            self.log.write(line)
            self._tail = (self._tail + [line.rstrip()])[-20:]
            self._set_status(line_status(line))
        self.log.flush()
        if not ended:
            self._set_status("")
            return self.state
        code = self.process.returncode
        if code != 0:
            return self._fail(code)
        if self.index + 1 < len(self.steps):
            try:
                self._next()
            except SetupError as exc:
                self.error = f"{exc}; the whole output is in {self.log_path}"
                self.state = self.FAILED
                self.close()
            return self.state
        return self._finish()

    def _fail(self, code: int) -> str:
        step = self.steps[self.index]
        lines = [line for line in self._tail if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        detail = (errors or lines or [f"exit {code}"])[-1].strip()
        self.error = (f"Install Core failed while {step.title}: {detail}. The whole output is in {self.log_path}; "
                      f"press Install Core in {PREFERENCES} to try again")
        self.state = self.FAILED
        self.close()
        return self.state

    def _finish(self) -> str:
        info = [line for line in self._tail if '"event"' in line]
        try:
            self.version = events.from_line(info[-1]).version if info else ""
        except Exception:
            self.version = ""
        self.command = self._core()
        write_marker(self.env, {"complete": True, "command": self.command, "core": self.version,
                                "torch_build": self.build, "torch_index": self.index_url,
                                "wheel": os.path.basename(self.wheel), "venv": self.use_venv,
                                "seconds": round(time.monotonic() - self.started)})
        self.state = self.FINISHED
        self.status = f"Install Core: done, clipasso core {self.version} in {self.env}"
        self.progress = 1.0
        self.close()
        return self.state

    def cancel(self) -> None:
        """Esc: kill the running process; the environment stays unmarked (Install Core again repairs it)."""
        if self.state != self.RUNNING:
            return
        self._kill()
        self.state = self.CANCELLED
        self.status = "Install Core: stopped"
        self.close()

    def _kill(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        try:
            if sys.platform != "win32":
                os.killpg(process.pid, signal.SIGKILL)  # pip and anything it started
            else:
                process.kill()
        except OSError:
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        """Stop whatever still runs and close the log (safe to call more than once)."""
        self._kill()
        if not self.log.closed:
            self.log.close()

    def run_to_end(self, poll: float = 0.2, timeout: float | None = None) -> str:
        """Blocking (scripts and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.step() == self.RUNNING:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                self.error = f"Install Core took longer than {timeout:g} s and was stopped"
                self.state = self.FAILED
                break
            time.sleep(poll)
        return self.state
