from . import feedback  # noqa: F401
