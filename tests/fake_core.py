"""A misbehaving stand-in for the clipasso core, for tests of contract.client: run as
``python fake_core.py SUBCOMMAND STEP... --progress json --watch-parent``, it does the steps in order
and exits 0 (or as a step says). Steps:

    start, progress, done, image,   a good event of that kind (image: a batch's failed image,
    batch                           batch: a batch's end)
    exit:N                          exit with status N now
    forever                         a progress event every 0.05 s until killed
    grandchild                      start a process that holds stdout and stderr open for 60 s (its
                                    pid in a warning event)
    any name in FAULTS              the bytes it maps to on stdout
    long-line                       100 MB on stdout without a newline (streamed), then one
    stderr-flood                    10 MB on stderr
"""
import json
import subprocess
import sys
import time

GOOD = {
    "start": {"event": "start", "version": "0.1.0", "input": "cat.jpg", "strokes": 16, "seeds": 1,
              "iterations": 2, "preset": "fast", "backbone": "tiny-random"},
    "progress": {"event": "progress", "iteration": 1, "total": 2, "loss": 1.5, "best_loss": 1.5,
                 "elapsed_s": 0.1, "eta_s": 0.1},
    "done": {"event": "done", "svg": "a.svg", "loss": 1.5, "seed": 0, "iterations": 2, "cancelled": False},
    "image": {"event": "image", "index": 1, "input": "b.png", "status": "failed", "done": 1, "total": 2,
              "error": "not a readable image: b.png"},
    "batch": {"event": "batch", "done": 1, "failed": 1, "skipped": 0, "table": "clipasso-batch.jsonl",
              "cancelled": False},
}
PROGRESS = '{"protocol": 1, "event": "progress", "iteration": 1, "total": 2, "elapsed_s": 0.1, "eta_s": 0.1, '
FAULTS = {
    "not-utf8": b'\xff\xfe{"protocol": 1, "event": "warning", "message": "\xe9"}\n',
    "nan": b"NaN\n",
    "nan-field": (PROGRESS + '"loss": NaN, "best_loss": 1.5}\n').encode(),
    "infinity-field": (PROGRESS + '"loss": 1.5, "best_loss": -Infinity}\n').encode(),
    "1e999": (PROGRESS + '"loss": 1e999, "best_loss": 1.5}\n').encode(),
    "1e999-int": b'{"protocol": 1, "event": "progress", "iteration": 1e999, "total": 2, "loss": 1, "best_loss": 1, '
                 b'"elapsed_s": 0, "eta_s": 0}\n',
    "huge-int": (PROGRESS + '"loss": 1' + "0" * 400 + ', "best_loss": 1.5}\n').encode(),
    "event-5": b'{"protocol": 1, "event": 5}\n',
    "event-list": b'{"protocol": 1, "event": [5]}\n',
    "nested": b"[" * 100_000 + b"\n",
    "nested-in-event": b'{"protocol": 1, "event": "warning", "message": ' + b"[" * 100_000 + b"\n",
    "not-object": b"[1, 2, 3]\n",
    "text": b"Downloading something...\n",
    "bad-done": b'{"protocol": 1, "event": "done", "svg": "a.svg", "loss": 1, "seed": 0, "iterations": 2, '
                b'"cancelled": "no"}\n',
}


def write(data: bytes, stream=None) -> None:
    stream = stream or sys.stdout.buffer
    stream.write(data)
    stream.flush()


def event(data: dict) -> bytes:
    return (json.dumps({"protocol": 1, **data}) + "\n").encode()


def main(steps: list[str]) -> int:
    for step in steps:
        if step in GOOD:
            write(event(GOOD[step]))
        elif step in FAULTS:
            write(FAULTS[step])
        elif step.startswith("exit:"):
            return int(step[5:])
        elif step == "forever":
            while True:
                write(event(GOOD["progress"]))
                time.sleep(0.05)
        elif step == "grandchild":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            write(event({"event": "warning", "message": str(child.pid)}))
        elif step == "long-line":
            block = b"x" * (1 << 20)
            for _ in range(100):
                write(block)
            write(b"\n")
        elif step == "stderr-flood":
            line = b"e" * 99 + b"\n"
            for _ in range(100):
                write(line * 1000, sys.stderr.buffer)
        else:
            raise SystemExit(f"fake_core: unknown step {step!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main([a for a in sys.argv[2:] if a not in ("--progress", "json", "--watch-parent")]))
