"""A speed-up: MIME headers a campaign repeats in every message are folded once per process.

Folding headers is most of the cost of turning a message into bytes; bench/README.md has the
figures. subscriptions.campaigns.messages sets this policy on each marketing message it builds.
"""

from __future__ import annotations

from email.policy import Compat32


class _RepeatedHeaderFolding(Compat32):
    """compat32 that remembers how it folded a header it has seen before.

    Folding headers is most of the cost of turning a message into bytes (~0.5 ms of ~1 ms on
    SMTP), and a campaign's messages repeat most of theirs (From, List-Id, List-Unsubscribe-
    Post, every part's Content-Type and MIME-Version): those are folded once per process.
    """

    _cache: dict = {}  # shared on purpose: the generator clones the policy per message

    def fold_binary(self, name, value):
        if not isinstance(value, str):
            return super().fold_binary(name, value)
        key = (self.linesep, self.max_line_length, self.cte_type, name, value)
        folded = self._cache.get(key)
        if folded is None:
            if len(self._cache) > 1000:  # per-recipient values pass through; keep it small
                self._cache.clear()
            folded = self._cache[key] = super().fold_binary(name, value)
        return folded


REPEATED_HEADER_FOLDING = _RepeatedHeaderFolding()
