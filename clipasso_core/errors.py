"""User-facing errors (each carries a message meant for a person and the CLI exit code it maps to),
and ``out_of_memory``, which tells the device running out of memory from other failures."""
from __future__ import annotations


class ClipassoError(Exception):
    """Base of every error the CLI reports as one clear message (no traceback)."""

    exit_code = 2


class InputError(ClipassoError):
    """Bad input: unreadable or corrupt file, unknown format, invalid option value."""


class ModelUnavailableError(ClipassoError):
    """Model weights are neither cached nor downloadable (offline), or a weights file is bad."""


class Cancelled(ClipassoError):
    """Cancelled before the optimisation started: there is no sketch, nothing was written."""

    exit_code = 3


def out_of_memory(exc: BaseException) -> bool:
    """Whether an exception is the device (or the machine) running out of memory."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and ("out of memory" in str(exc) or "can't allocate memory" in str(exc))
