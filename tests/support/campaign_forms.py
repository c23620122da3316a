"""What the campaign admin page posts: the campaign's fields and its (empty) per-language rows."""

from __future__ import annotations

# The inline formset of per-language content (admin.campaigns.CampaignTranslationInline) posts
# its management form with every save of the page.
TRANSLATIONS_PREFIX = "translations"


def campaign_post(*, translations: list[dict] | None = None, **fields) -> dict:
    """The POST body of the campaign add/change page: `fields` as the form names them
    (`body_format` defaults to HTML, the format API campaigns and old tests are written in)."""
    rows = translations or []
    data = {
        "body_format": "html",
        f"{TRANSLATIONS_PREFIX}-TOTAL_FORMS": str(len(rows)),
        f"{TRANSLATIONS_PREFIX}-INITIAL_FORMS": "0",
        f"{TRANSLATIONS_PREFIX}-MIN_NUM_FORMS": "0",
        f"{TRANSLATIONS_PREFIX}-MAX_NUM_FORMS": "1000",
    }
    if "html_body" in fields:  # the page writes the body in its editor field
        fields["body_source"] = fields.pop("html_body")
    data.update({name: value for name, value in fields.items() if value is not None})
    for index, row in enumerate(rows):
        data.update({f"{TRANSLATIONS_PREFIX}-{index}-{name}": value for name, value in row.items()})
    return data
