"""User-facing errors. Each carries a message meant for a person and the CLI exit code it maps to."""
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
