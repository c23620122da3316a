"""API v1 views, one module per resource; base.py holds what they all share, lookups.py the
objects a call names."""
