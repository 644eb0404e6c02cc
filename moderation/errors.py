"""User-facing errors: the CLI prints their message on one line, never a traceback."""


class ModerationError(Exception):
    """Base class for errors caused by user input or environment, not by a bug."""

    exit_code = 2


class InputError(ModerationError):
    """An input file or row cannot be read or understood."""


class ModelError(ModerationError):
    """A model directory is missing, incomplete or corrupt."""


class GateError(ModelError):
    """Promotion refused because the model failed its regression gate (exit 1, as ``train`` gives)."""

    exit_code = 1


class DataError(ModerationError):
    """A configured training or validation source cannot be found in the data directory."""
