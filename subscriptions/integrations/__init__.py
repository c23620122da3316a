"""Integrations with the host product: outbound webhooks and host preference links."""
