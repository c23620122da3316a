"""Development defaults of `manage.py runstack`, applied before the settings are read.

manage.py calls this before Django is set up, so this module imports nothing of the app.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

DEFAULT_PORT = 8000


def apply_dev_defaults(environ: MutableMapping[str, str], argv: Sequence[str] = ()) -> None:
    """Development values for anything the environment leaves unset (called before settings load).

    DEBUG turns on the settings' own dev SECRET_KEY, hash key and postal address; SITE_URL
    follows the port (`--port` in argv, else PORT) so links in the outbox's mails point here.
    """
    port = port_argument(argv) or environ.get("PORT") or str(DEFAULT_PORT)
    environ["PORT"] = port
    environ.setdefault("DEBUG", "1")
    environ.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    environ.setdefault("PYTHONUNBUFFERED", "1")


def port_argument(argv: Sequence[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--port" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--port="):
            return arg.split("=", 1)[1]
    return None
