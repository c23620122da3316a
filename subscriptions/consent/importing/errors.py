from __future__ import annotations


class ImportFileError(ValueError):
    """The file or the options as a whole cannot be imported; the message says what to fix."""


class ImportAlreadyRunning(ImportFileError):
    """Another import into the same topic is queued or running."""
