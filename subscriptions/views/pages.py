"""Placeholder: the subscriber pages (built in the pages work)."""

from django.http import Http404


def _todo(request, token=None):
    raise Http404


unsubscribe = preferences = confirm = _todo
