"""Importing a CSV file of contacts: one service behind the command, the console and the API.

`import_start` checks the file's header and the options at once (ImportFileError says what to
fix), stores the file in the database so any worker host can read it, and creates the Import
(queued); `import_run` runs it, set-based, one committed chunk at a time (pipeline.py). Three
modes: subscribe to a topic, add to the suppression list (hashes only), update attributes.
"""

from __future__ import annotations

from .errors import ImportAlreadyRunning, ImportFileError
from .service import import_run, import_start

__all__ = [
    "ImportAlreadyRunning",
    "ImportFileError",
    "import_run",
    "import_start",
]
