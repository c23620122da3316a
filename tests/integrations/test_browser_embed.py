"""Issue 14, bar 2: the preference page inside a host product's page, in a real browser.

The host page is served by a second local HTTP server (another origin than the live server's)
and embeds the page with exactly the snippet of docs/integrating.md.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from subscriptions.integrations.links import preference_link_create
from subscriptions.models import ConsentEvent, Subscription
from tests.support.smtp import free_port

pytestmark = pytest.mark.browser

# docs/integrating.md's copy-paste snippet, with the link and prefcenter's origin filled in.
HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Your profile · Example App</title></head>
<body>
  <h1>Your profile</h1>
  <iframe id="prefcenter-preferences"
          src="{src}"
          title="Email preferences"
          style="display:block; width:100%; border:0; height:640px"></iframe>
  <script>
    window.addEventListener("message", function (event) {{
      var frame = document.getElementById("prefcenter-preferences");
      if (event.source !== frame.contentWindow) return;
      if (event.origin !== "{prefcenter_origin}") return;
      if (event.data && event.data.type === "prefcenter:height") {{
        frame.style.height = event.data.height + "px";
      }}
    }});
  </script>
</body></html>
"""


class HostProduct:
    """A host product's profile page, served from its own origin on a free local port."""

    def __init__(self):
        self.html = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = outer.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host_product():
    host = HostProduct()
    yield host
    host.close()


@pytest.fixture
def other_site():
    host = HostProduct()
    yield host
    host.close()


def frame_height(page) -> str:
    return page.evaluate("document.getElementById('prefcenter-preferences').style.height")


def embed(host: HostProduct, contact, prefcenter_origin: str) -> str:
    src = f"{preference_link_create(contact=contact).url}?embed=1"
    host.html = HOST_PAGE.format(src=src, prefcenter_origin=prefcenter_origin)
    return src


def test_a_person_changes_a_topic_inside_the_host_page_and_the_frame_follows(
    transactional_db, site_url, settings, page, host_product, subscribed_alice, topic, other_topic
):
    settings.PREFERENCE_LINK_ORIGINS = [host_product.origin]
    prefcenter_origin = f"{urlsplit(site_url).scheme}://{urlsplit(site_url).netloc}"
    embed(host_product, subscribed_alice, prefcenter_origin)
    assert urlsplit(host_product.origin).netloc != urlsplit(site_url).netloc

    page.goto(host_product.origin)
    frame = page.frame_locator("#prefcenter-preferences")
    weekly_digest = frame.get_by_role("checkbox", name="Weekly digest")
    expect(weekly_digest).not_to_be_checked()
    # The page posted its height and the snippet sized the frame to it.
    page.wait_for_function(
        "document.getElementById('prefcenter-preferences').style.height !== '640px'"
    )
    first_height = frame_height(page)
    expect(frame.get_by_role("heading", name="Your email preferences")).to_be_visible()

    weekly_digest.check()
    frame.get_by_role("button", name="Save my preferences").click()

    expect(frame.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(frame.get_by_role("checkbox", name="Weekly digest")).to_be_checked()
    # The saved notice makes the page taller: the parent's iframe grew with it.
    page.wait_for_function(
        f"document.getElementById('prefcenter-preferences').style.height !== '{first_height}'"
    )
    assert int(frame_height(page).removesuffix("px")) > int(first_height.removesuffix("px"))
    subscription = Subscription.objects.get(contact=subscribed_alice, topic=other_topic)
    assert subscription.status == "subscribed"
    event = ConsentEvent.objects.get(contact=subscribed_alice, topic=other_topic)
    assert (event.action, event.source) == ("subscribed", "host_link")
    # No cookie was needed, nor set, for prefcenter inside the third-party frame.
    assert not [c for c in page.context.cookies() if c["domain"] in ("localhost", "127.0.0.1")]


def test_a_site_not_on_the_list_cannot_frame_the_page(
    transactional_db,
    site_url,
    settings,
    page,
    host_product,
    other_site,
    csp_expected,
    subscribed_alice,
):
    settings.PREFERENCE_LINK_ORIGINS = [host_product.origin]
    prefcenter_origin = f"{urlsplit(site_url).scheme}://{urlsplit(site_url).netloc}"
    src = embed(other_site, subscribed_alice, prefcenter_origin)
    csp_expected.append("frame-ancestors")  # Chromium reports the refusal it is meant to make

    page.goto(other_site.origin)
    page.wait_for_load_state("load")

    [child] = [f for f in page.frames if f is not page.main_frame]
    # Chromium refused to render it: an error document stands in, with none of the page.
    page.wait_for_timeout(500)
    assert child.url != src
    assert child.locator("text=Your email preferences").count() == 0
    assert frame_height(page) == "640px"  # nothing inside posted a height
