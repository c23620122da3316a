#!/usr/bin/env python
"""Django's command-line utility for prefcenter."""

import os
import sys


def settings_option(argv: list[str]) -> str | None:
    """The value of a `--settings` option, which Django would apply only once it parses."""
    for index, arg in enumerate(argv):
        if arg.startswith("--settings="):
            return arg.partition("=")[2]
        if arg == "--settings" and index + 1 < len(argv):
            return argv[index + 1]
    return None


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "prefcenter.settings")
    if chosen := settings_option(sys.argv[2:]):
        os.environ["DJANGO_SETTINGS_MODULE"] = chosen
    if sys.argv[1:2] == ["runstack"]:
        # The development stack: DEBUG and its dev values unless the environment says otherwise,
        # set before the settings are read so this process and its children agree.
        from prefcenter.dev_defaults import apply_dev_defaults

        apply_dev_defaults(os.environ, sys.argv[2:])
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        # Read the settings before Django picks the command: when they fail to load, Django still
        # runs the commands it needs no settings for (`shell`, `help`), so a production host
        # missing a secret would start a shell. Only `doctor` is let through (settings.py).
        settings.INSTALLED_APPS  # noqa: B018 (the attribute access loads the settings)
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration mistake is the operator's to fix: say what, without a traceback.
        sys.exit(f"prefcenter: {error}")


if __name__ == "__main__":
    main()
