"""handler400/403/404/500 answer the site's own styled, translated page with a link home, and a
database that cannot be reached answers 503 wherever the error was raised. The site root is a
small landing page (the admin's "View site" leads there)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.test import Client, override_settings
from django.urls import reverse

from prefcenter import urls
from subscriptions.views import errors

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")


@pytest.fixture
def quiet_client(db):
    # The test client re-raises a view's exception by default; a browser gets the page.
    return Client(raise_request_exception=False)


def assert_styled(response, status: int) -> str:
    page = response.content.decode()
    assert response.status_code == status
    assert "site.css" in page
    assert f'href="{reverse("home")}"' in page
    return page


def test_it_answers_an_unknown_page_with_the_styled_404(client, db):
    page = assert_styled(client.get("/no-such-page/"), 404)
    assert "Page not found" in page


def test_it_answers_the_404_in_danish(client, db):
    page = assert_styled(client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="da"), 404)
    assert "Siden blev ikke fundet" in page
    assert "Forside" in page


@override_settings(ROOT_URLCONF="tests.views.error_urls")
def test_it_answers_a_bug_with_the_styled_500(quiet_client):
    page = assert_styled(quiet_client.get("/boom/", HTTP_ACCEPT_LANGUAGE="da"), 500)
    assert "Noget gik galt hos os" in page
    assert "Server Error" not in page


@override_settings(ROOT_URLCONF="tests.views.error_urls")
def test_it_answers_a_bug_under_the_api_with_the_json_error(quiet_client):
    response = quiet_client.get("/api/v1/boom/")
    assert response.status_code == 500
    assert response.json()["error"] == "server_error"


def test_it_answers_the_400_and_403_pages_styled(rf, db):
    request = rf.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="en")
    for handler, status in ((errors.bad_request, 400), (errors.permission_denied, 403)):
        response = handler(request, exception=None)
        assert response.status_code == status
        assert 'href="/"' in response.content.decode()


def test_the_project_names_its_own_error_handlers():
    assert urls.handler400 == "subscriptions.views.errors.bad_request"
    assert urls.handler403 == "subscriptions.views.errors.permission_denied"
    assert urls.handler404 == "subscriptions.views.errors.page_not_found"
    assert urls.handler500 == "subscriptions.views.errors.server_error"


class DatabaseGoneMiddleware:
    """A middleware that needs the database, outside any view (DatabaseUnavailableMiddleware
    never sees its error: only handler500 does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize(
    "path",
    ["/unsubscribe/some-token/", "/preferences/some-token/", "/api/v1/campaigns/1/"],
)
def test_it_answers_503_for_a_database_error_raised_in_a_middleware(settings, quiet_client, path):
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE,
        "tests.views.test_error_pages.DatabaseGoneMiddleware",
    ]

    response = quiet_client.get(path, HTTP_ACCEPT_LANGUAGE="da")

    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    if path.startswith("/api/"):
        assert response.json()["error"] == "database_unavailable"
    else:
        assert "Dit valg blev ikke gemt" in response.content.decode()


@override_settings(ROOT_URLCONF="tests.views.error_urls")
def test_it_answers_503_for_a_database_error_in_a_view(quiet_client):
    response = quiet_client.get("/gone/")

    page = response.content.decode()
    assert response.status_code == 503
    assert "Temporarily unavailable" in page
    assert "Your choice was not saved" in page
    assert "try again in a minute" in page


def test_it_falls_back_to_plain_words_when_the_page_itself_fails(rf, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("the template needed the database")

    monkeypatch.setattr(errors, "error_page", broken)

    response = errors.database_unavailable(rf.get("/subscribe/"), OperationalError("down"))

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/plain")
    assert "try again in a minute" in response.content.decode()


def test_it_shows_a_landing_page_at_the_root(client, db):
    response = client.get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'href="{reverse("subscribe")}"' in page
    assert f'href="{reverse("preferences_request")}"' in page


def test_the_admin_s_view_site_leads_to_the_landing_page(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert 'href="/"' in page
    assert admin_client.get("/").status_code == 200
