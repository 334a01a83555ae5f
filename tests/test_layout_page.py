"""The layout every page shares: navigation, sign-in state, the simulated-data banner."""
import pytest
from django.urls import NoReverseMatch, reverse

from tests.api_factories import make_source

pytestmark = pytest.mark.django_db

PAGES = ["/ranking", "/signals", "/alerts", "/scans", "/"]


def login_url() -> str:
    try:
        return reverse("login")
    except NoReverseMatch:
        return reverse("admin:login")


@pytest.mark.parametrize("url", PAGES)
def test_every_page_has_the_navigation_and_a_sign_in_link(client, url):
    page = client.get(url).content.decode()
    nav = page[page.index('<nav aria-label="Main"'):page.index("</nav>")]
    for target in ("/ranking", "/signals", "/alerts", "/scans"):
        assert f'href="{target}"' in nav
    assert f'href="{login_url()}?next={url}"' in page and 'aria-controls="main-nav"' in page
    assert 'name="viewport"' in page and "js/nav.js" in page


def test_a_signed_in_user_sees_their_name_and_a_logout_form(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("alice", password="x"))
    page = client.get("/ranking").content.decode()
    assert "Signed in as <strong>alice</strong>" in page
    assert 'method="post"' in page and "Log out</button>" in page and 'name="csrfmiddlewaretoken"' in page
    assert "Sign in</a>" not in page


def test_the_banner_shows_when_the_data_are_simulated(client):
    assert "Simulated market" not in client.get("/scans").content.decode()
    make_source("binance_spot", simulated=True)
    assert "Simulated market" in client.get("/scans").content.decode()
