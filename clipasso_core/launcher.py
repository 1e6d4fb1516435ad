"""Entry point of the ``clipasso`` command and of ``python -m clipasso_core``.

Loading the CLI loads torch, which takes seconds; a Ctrl-C in that time is held and then ends the
run like any early cancel (one line, exit code 3, nothing written) instead of a traceback.
"""
from __future__ import annotations

import signal


def main(argv: list[str] | None = None) -> int:
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        from .cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
    return cli_main(argv, interrupted_at_start=bool(interrupted))
