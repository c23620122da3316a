"""The HTTP API v1: JSON in and out, Bearer API keys, errors as {"error", "detail"}."""
