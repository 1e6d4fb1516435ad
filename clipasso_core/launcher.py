"""Entry point of the ``clipasso`` command and of ``python -m clipasso_core``.

Loading the pipeline loads torch, which takes seconds; a Ctrl-C in that time is held and then ends
the run like any early cancel (one line, exit code 3, nothing written) instead of a traceback.
``clipasso info`` and ``--help`` load no torch.
"""
from __future__ import annotations

import signal
import sys
from importlib import import_module


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    interrupted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    try:
        from .cli import main as cli_main

        if args[:1] in (["sketch"], ["animate"]) and not {"-h", "--help"} & set(args):
            import_module(".pipeline", __package__)
    finally:
        signal.signal(signal.SIGINT, previous)
    return cli_main(args, interrupted_at_start=bool(interrupted))
