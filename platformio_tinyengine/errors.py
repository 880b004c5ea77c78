"""Errors a user can act on. The CLI prints them as one message and exits non-zero."""


class TinyEngineError(Exception):
    """Base of every error the generator reports to the user."""


class ModelError(TinyEngineError):
    """The file is not a usable TFLite model (missing, corrupt, malformed)."""


class UnsupportedModelError(TinyEngineError):
    """A valid model that uses something the generator cannot compile."""


class UnsupportedOperator(Exception):
    """Raised by a lowering for one operator; collected into UnsupportedModelError."""


class MissingToolError(TinyEngineError):
    """A program TinyEngine runs (compiler, simulator) is not installed."""


class FirmwareError(TinyEngineError):
    """Building or running a firmware image failed."""
