"""Reading is public; a token or a session authenticates; nothing can be written yet."""
import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="correct horse battery")


def test_anyone_can_read(alice):
    assert APIClient().get("/api/scan/unified-ranking").status_code == 200
    assert APIClient().get("/api/scans").status_code == 200


def test_a_username_and_password_get_a_token(alice):
    response = APIClient().post("/api/auth/token", {"username": "alice", "password": "correct horse battery"},
                                format="json")
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=alice).key}


def test_a_wrong_password_is_a_400(alice):
    response = APIClient().post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


def test_missing_credentials_are_a_400_naming_them():
    response = APIClient().post("/api/auth/token", {}, format="json")
    assert response.status_code == 400
    assert sorted(response.json()) == ["password", "username"]


def test_the_token_endpoint_ignores_a_session_so_needs_no_csrf_token(alice):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/auth/token", {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 200


def test_a_token_authenticates(alice):
    token = Token.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/auth/me")
    assert response.status_code == 200
    assert response.json() == {"username": "alice", "is_staff": False}


def test_a_session_authenticates(alice):
    client = APIClient()
    client.force_login(alice)
    assert client.get("/api/auth/me").json()["username"] == "alice"


def test_without_credentials_me_is_a_401():
    response = APIClient().get("/api/auth/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_bad_token_is_a_401_even_where_reading_is_public():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get("/api/scan/unified-ranking").status_code == 401


def test_writing_is_not_offered(alice):
    assert APIClient().post("/api/scan/unified-ranking", {}).status_code == 401
    token = Token.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post("/api/scan/unified-ranking", {}).status_code == 405
    assert client.delete("/api/scans/1").status_code == 405
