from . import campaigns  # noqa: F401  (registers the campaign admin)
