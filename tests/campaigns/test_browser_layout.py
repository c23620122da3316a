"""Bar 3 of issue 12: a campaign email in the default layout, as a phone and a desktop show it.

The two screenshots are kept under test-artifacts/ (docs/images/ holds copies for the README).
"""

from __future__ import annotations

import pytest

from subscriptions.campaigns.messages import render_marketing_message
from subscriptions.mail import layouts
from subscriptions.models import Campaign, CampaignTranslation, EmailLayout
from tests.factories import ContactFactory
from tests.support.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

LOGO_URL = "https://brand.example/logo.png"
BRAND = "#0f766e"
BODY = """
<h1>Spring is here, {{ contact.attributes.first_name|default:"friend" }}</h1>
<p>Our spring collection has landed: lighter fabrics, brighter colours and a few classics
brought back by popular demand. Here is what is new this week.</p>
<ul><li>The <strong>linen shirt</strong>, now in six colours</li>
<li>Free returns for 60 days</li>
<li>A longer address to check wrapping: https://shop.example.com/collections/spring-2027/linen-shirts?utm_source=newsletter</li></ul>
<p><a href="https://shop.example.com/spring">See the collection</a></p>
<p>Thank you for reading,<br>The team</p>
"""


def _logo_png(browser) -> bytes:
    """A small wordmark drawn by the browser itself: no file from outside the repository."""
    page = browser.new_page(viewport={"width": 300, "height": 64})
    page.set_content(
        f'<style>html,body{{margin:0;background:transparent}}</style><div style="margin:0;width:300px;height:64px;display:flex;align-items:center;'
        f'font:700 30px system-ui,sans-serif;color:{BRAND}">◆ Example Shop</div>'
    )
    png = page.screenshot(clip={"x": 0, "y": 0, "width": 300, "height": 64}, omit_background=True)
    page.close()
    return png


@pytest.fixture
def message_html(topic, settings):
    settings.POSTAL_ADDRESS = "Example Shop ApS, Vesterbrogade 1, 1620 København V, Denmark"
    # The migration's default layout (made anew if a transactional test flushed it).
    layout = EmailLayout.objects.default() or EmailLayout(name="Default", is_default=True)
    layout.logo_url, layout.brand_color = LOGO_URL, BRAND
    layout.save()
    layouts._compile.cache_clear()
    campaign = Campaign.objects.create(
        name="Spring", topic=topic, subject="Spring", html_body=BODY, layout=layout
    )
    CampaignTranslation.objects.create(
        campaign=campaign, language="da", subject="Forår", html_body=BODY
    )

    def render(locale: str) -> str:
        contact = ContactFactory(locale=locale, attributes={"first_name": "Ada"})
        return render_marketing_message(campaign=campaign, contact=contact).html

    return render


@pytest.mark.parametrize("width", [600, 375])
def test_the_default_layout_reads_well_at_desktop_and_phone_width(
    browser, page, message_html, width
):
    logo = _logo_png(browser)
    page.route(LOGO_URL, lambda route: route.fulfill(body=logo, content_type="image/png"))
    page.set_viewport_size({"width": width, "height": 800})
    page.set_content(message_html("en"), wait_until="load")

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{scroll_width}px of content in a {width}px window"
    logo_image = page.locator(f'img[src="{LOGO_URL}"]')
    assert logo_image.evaluate("img => img.complete && img.naturalWidth") > 0
    assert logo_image.bounding_box()["width"] <= width
    assert BRAND in page.content()
    footer = page.locator(".prefcenter-footer")
    assert footer.get_by_role("link", name="Unsubscribe from Product news").is_visible()
    assert footer.get_by_role("link", name="Manage your preferences").is_visible()
    assert footer.get_by_text("Vesterbrogade 1").is_visible()
    body_font = page.locator("h1").evaluate("h => getComputedStyle(h).fontFamily")
    assert "serif" not in body_font.replace("sans-serif", "")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"campaign-email-{width}.png"), full_page=True)


def test_a_danish_contact_sees_danish_chrome(browser, page, message_html):
    page.set_viewport_size({"width": 375, "height": 800})
    page.route(
        LOGO_URL, lambda route: route.fulfill(body=_logo_png(browser), content_type="image/png")
    )
    page.set_content(message_html("da"), wait_until="load")

    footer = page.locator(".prefcenter-footer")
    assert footer.get_by_role("link", name="Afmeld Product news").is_visible()
    assert footer.get_by_role("link", name="Administrer dine præferencer").is_visible()
    assert page.evaluate("document.documentElement.lang") == "da"
