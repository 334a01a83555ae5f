"""Accounts: sign in and out, sign-up only when SIGNUP_ENABLED, the API token on the account page."""
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password=PASSWORD)


def test_the_login_page_has_labelled_fields(client):
    page = client.get("/login").content.decode()
    assert '<label for="id_username">' in page and '<label for="id_password">' in page
    assert 'action="/login"' in page


def test_signing_in_leads_to_your_watchlists(client, alice):
    response = client.post("/login", {"username": "alice", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/watchlists")
    page = client.get("/watchlists").content.decode()
    assert "Signed in as <strong>alice</strong>" in page and 'href="/account"' in page


def test_signing_in_returns_to_the_page_asked_for(client, alice):
    assert client.get("/account")["Location"] == "/login?next=/account"
    response = client.post("/login?next=/account", {"username": "alice", "password": PASSWORD, "next": "/account"})
    assert response["Location"] == "/account"


def test_a_wrong_password_is_shown_and_nobody_is_signed_in(client, alice):
    response = client.post("/login", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post(client, alice):
    client.force_login(alice)
    assert client.get("/logout").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/logout")
    assert (response.status_code, response["Location"]) == (302, "/")
    assert "_auth_user_id" not in client.session


def test_the_header_links_to_sign_in_when_signed_out(client):
    page = client.get("/ranking").content.decode()
    assert 'href="/login?next=/ranking"' in page and 'href="/watchlists"' in page


def test_signup_is_closed_by_default(client, settings):
    assert settings.SIGNUP_ENABLED is False
    response = client.get("/signup")
    assert response.status_code == 404
    assert "SIGNUP_ENABLED" in response.content.decode()
    assert client.post("/signup", {"username": "eve", "password1": PASSWORD, "password2": PASSWORD}).status_code == 404
    assert not User.objects.filter(username="eve").exists()


def test_signup_when_enabled_creates_and_signs_in(client, settings):
    settings.SIGNUP_ENABLED = True
    page = client.get("/signup").content.decode()
    assert '<label for="id_username">' in page and '<label for="id_password1">' in page
    response = client.post("/signup", {"username": "eve", "password1": PASSWORD, "password2": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/account")
    assert User.objects.get(username="eve").check_password(PASSWORD)
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("form, shown", [
    ({"username": "eve", "password1": PASSWORD, "password2": "different"}, "The two password fields didn"),
    ({"username": "eve", "password1": "123", "password2": "123"}, "This password is too short"),
    ({"username": "alice", "password1": PASSWORD, "password2": PASSWORD}, "A user with that username already exists"),
    ({"username": "", "password1": PASSWORD, "password2": PASSWORD}, "Username: This field is required."),
])
def test_signup_errors_are_shown_and_nothing_is_created(client, settings, alice, form, shown):
    settings.SIGNUP_ENABLED = True
    response = client.post("/signup", form)
    assert response.status_code == 400
    assert shown in response.content.decode().replace("&#x27;", "'")
    assert User.objects.count() == 1


def test_a_bad_signup_enabled_value_stops_start_up_naming_the_key():
    import os

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"SIGNUP_ENABLED": "maybe"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "SIGNUP_ENABLED='maybe' is not a boolean" in result.stderr


def test_the_account_page_shows_and_replaces_the_token(client, alice):
    client.force_login(alice)
    page = client.get("/account").content.decode()
    assert "No API token yet" in page and not Token.objects.exists()
    client.post("/account/token")
    first = Token.objects.get(user=alice).key
    assert f'value="{first}"' in client.get("/account").content.decode()
    response = client.post("/account/token", follow=True)
    second = Token.objects.get(user=alice).key
    assert second != first and "the previous one no longer works" in response.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get("/api/auth/me").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/auth/me").json()["username"] == "alice"


def test_the_token_from_the_api_is_the_one_the_page_shows(client, alice):
    token = APIClient().post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json").json()
    client.force_login(alice)
    assert f'value="{token["token"]}"' in client.get("/account").content.decode()


def test_the_token_is_replaced_only_by_a_post(client, alice):
    client.force_login(alice)
    assert client.get("/account/token").status_code == 405
    assert not Token.objects.exists()


def test_the_token_form_needs_a_csrf_token(alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/account/token").status_code == 403
    assert not Token.objects.exists()
