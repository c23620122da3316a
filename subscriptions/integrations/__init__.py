"""What the host product gets beside the API: preference links it hands its users (links.py),
the consent check other systems ask before contacting someone (consent_check.py), and outbound
webhooks (webhooks.py)."""
