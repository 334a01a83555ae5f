"""/api/watchlists: create (both bodies), list, read, replace, change, delete, replace coins; unknown
symbols named; names unique per owner; each watchlist's schedule follows its interval."""
import pytest
from django.contrib.auth.models import User
from django_q.models import Schedule
from rest_framework.test import APIClient

from tests.api_factories import make_coin
from watchlists.models import MAX_COINS, Watchlist

pytestmark = pytest.mark.django_db
URL = "/api/watchlists"


@pytest.fixture
def coins():
    return {s: make_coin(s) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")}


def client_of(username: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get_or_create(username=username)[0])
    return client


@pytest.fixture
def alice(coins) -> APIClient:
    return client_of("alice")


def create(client: APIClient, **body) -> dict:
    response = client.post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_watchlist_is_created_with_its_coins(alice):
    response = alice.post(URL, {"name": "Majors", "coins": ["ethusdt", "BTC", "BTCUSDT", " sol "]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/watchlists/{body['id']}"
    assert body["name"] == "Majors"
    assert body["coins"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]  # base assets resolved, duplicates collapsed
    assert (body["alerts_enabled"], body["scan_interval_minutes"]) == (False, None)
    watchlist = Watchlist.objects.get()
    assert watchlist.owner.username == "alice"
    assert alice.get(f"{URL}/{body['id']}").json() == body


def test_coins_may_be_one_comma_separated_string(alice):
    assert create(alice, name="Csv", coins="BTC, eth;SOLUSDT")["coins"] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_the_plans_create_endpoint_takes_the_plans_body(alice):
    me = User.objects.get(username="alice")
    response = alice.post(f"{URL}/create", {"user_id": str(me.pk), "name": "Low Cap Gems", "coins": ["DOGE"]},
                          format="json")
    assert response.status_code == 201, response.content
    assert response.json()["coins"] == ["DOGEUSDT"]
    assert "user_id" not in response.json()
    assert alice.post(f"{URL}/create", {"name": "No user id", "coins": []}, format="json").status_code == 201


def test_the_plans_body_cannot_create_for_someone_else(alice):
    bob = User.objects.create_user("bob")
    response = alice.post(f"{URL}/create", {"user_id": str(bob.pk), "name": "Sneaky", "coins": ["BTC"]},
                          format="json")
    assert response.status_code == 400
    assert response.json() == {"user_id": ["You can only create watchlists for yourself."]}
    assert not Watchlist.objects.exists()


def test_unknown_symbols_are_a_400_naming_each_and_nothing_is_saved(alice):
    response = alice.post(URL, {"name": "Typos", "coins": ["BTC", "nope", "FAKEUSDT", "ETH"]}, format="json")
    assert response.status_code == 400
    (message,) = response.json()["coins"]
    assert message.startswith("Unknown symbols: NOPE, FAKEUSDT.")
    assert "BTC," not in message
    assert not Watchlist.objects.exists()


def test_before_any_scan_the_message_says_no_coin_is_known_yet():
    response = client_of("alice").post(URL, {"name": "Early", "coins": ["BTC"]}, format="json")
    assert response.status_code == 400
    assert response.json()["coins"] == ["Unknown symbol: BTC. Use a symbol such as BTCUSDT or a base asset such as "
                                        "BTC. No coin is known yet: run a scan first (make run does)."]


@pytest.mark.parametrize("body, field", [
    ({"coins": ["BTC"]}, "name"),
    ({"name": "", "coins": ["BTC"]}, "name"),
    ({"name": "x" * 81}, "name"),
    ({"name": "Numbers", "coins": 42}, "coins"),
    ({"name": "Nested", "coins": [["BTC"]]}, "coins"),
    ({"name": "Interval", "scan_interval_minutes": 14}, "scan_interval_minutes"),
    ({"name": "Interval", "scan_interval_minutes": 10081}, "scan_interval_minutes"),
    ({"name": "Interval", "scan_interval_minutes": "soon"}, "scan_interval_minutes"),
    ({"name": "Interval", "scan_interval_minutes": 30.5}, "scan_interval_minutes"),
    ({"name": "Flag", "alerts_enabled": "perhaps"}, "alerts_enabled"),
])
def test_bad_fields_are_a_400_naming_the_field(alice, body, field):
    response = alice.post(URL, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Watchlist.objects.exists()


def test_too_many_coins_are_refused(alice):
    for i in range(MAX_COINS + 1):
        make_coin(f"C{i}USDT")
    response = alice.post(URL, {"name": "All", "coins": [f"C{i}" for i in range(MAX_COINS + 1)]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"coins": [f"At most {MAX_COINS} coins per watchlist ({MAX_COINS + 1} given)."]}


def test_names_are_unique_per_owner_ignoring_case(alice):
    create(alice, name="Majors")
    response = alice.post(URL, {"name": "MAJORS"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a watchlist named 'MAJORS'."]}
    create(client_of("bob"), name="Majors")  # bob's own namespace
    assert Watchlist.objects.count() == 2


def test_the_list_is_yours_only_by_name_and_paged(alice):
    for name in ("b", "a", "c"):
        create(alice, name=name)
    create(client_of("bob"), name="bob's")
    body = alice.get(URL, {"limit": 2}).json()
    assert (body["count"], [w["name"] for w in body["results"]]) == (3, ["a", "b"])
    assert body["next"] == "http://testserver/api/watchlists?limit=2&offset=2" and body["previous"] is None
    assert [w["name"] for w in alice.get(body["next"]).json()["results"]] == ["c"]
    assert alice.get(URL, {"limit": 0}).json() == {"limit": ["Must be an integer between 1 and 500."]}


def test_put_needs_the_name_and_keeps_what_is_left_out(alice):
    w = create(alice, name="Majors", coins=["BTC"], scan_interval_minutes=60)
    assert alice.put(f"{URL}/{w['id']}", {"coins": ["ETH"]}, format="json").json() == {
        "name": ["This field is required."]}
    body = alice.put(f"{URL}/{w['id']}", {"name": "Big two", "coins": ["ETH", "BTC"]}, format="json").json()
    assert (body["name"], body["coins"], body["scan_interval_minutes"]) == ("Big two", ["BTCUSDT", "ETHUSDT"], 60)


def test_patch_changes_only_the_fields_given(alice):
    w = create(alice, name="Majors", coins=["BTC", "ETH"])
    body = alice.patch(f"{URL}/{w['id']}", {"alerts_enabled": True}, format="json").json()
    assert (body["name"], body["coins"], body["alerts_enabled"]) == ("Majors", ["BTCUSDT", "ETHUSDT"], True)
    assert body["updated_at"] >= w["updated_at"]
    response = alice.patch(f"{URL}/{w['id']}", {"coins": ["BTC", "XXX"]}, format="json")
    assert response.status_code == 400 and "XXX" in response.json()["coins"][0]
    assert alice.get(f"{URL}/{w['id']}").json()["coins"] == ["BTCUSDT", "ETHUSDT"]  # nothing lost


def test_renaming_to_a_name_you_use_is_refused_but_keeping_your_own_is_fine(alice):
    create(alice, name="One")
    w = create(alice, name="Two")
    assert alice.patch(f"{URL}/{w['id']}", {"name": "one"}, format="json").status_code == 400
    assert alice.patch(f"{URL}/{w['id']}", {"name": "TWO"}, format="json").json()["name"] == "TWO"


def test_put_coins_replaces_them(alice):
    w = create(alice, name="Majors", coins=["BTC"])
    assert alice.put(f"{URL}/{w['id']}/coins", {"coins": ["SOL", "DOGEUSDT"]}, format="json").json()["coins"] == [
        "DOGEUSDT", "SOLUSDT"]
    assert alice.put(f"{URL}/{w['id']}/coins", {"coins": []}, format="json").json()["coins"] == []
    response = alice.put(f"{URL}/{w['id']}/coins", {"coins": ["BTC", "NOPE1", "NOPE2"]}, format="json")
    assert response.status_code == 400
    assert response.json()["coins"][0].startswith("Unknown symbols: NOPE1, NOPE2.")
    assert alice.put(f"{URL}/{w['id']}/coins", {}, format="json").json() == {"coins": ["This field is required."]}


def test_delete(alice):
    w = create(alice, name="Gone", coins=["BTC"])
    assert alice.delete(f"{URL}/{w['id']}").status_code == 204
    assert alice.get(f"{URL}/{w['id']}").status_code == 404
    assert not Watchlist.objects.exists()


@pytest.mark.parametrize("path", ["999", str(2**63), str(10**30)])
def test_a_missing_or_impossible_id_is_a_404(alice, path):
    response = alice.get(f"{URL}/{path}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Unknown watchlist: {path}"}


def schedules() -> list[tuple]:
    return list(Schedule.objects.filter(name__startswith="watchlist ")
                .values_list("name", "func", "args", "schedule_type", "minutes", "repeats"))


def test_an_interval_creates_updates_and_removes_the_schedule(alice):
    w = create(alice, name="Timed", coins=["BTC"], scan_interval_minutes=30)
    task, name = "watchlists.tasks.scan_watchlist_task", f"watchlist {w['id']}"
    assert schedules() == [(name, task, repr(w["id"]), Schedule.MINUTES, 30, -1)]
    first = Schedule.objects.get(name=name)
    alice.patch(f"{URL}/{w['id']}", {"scan_interval_minutes": 120}, format="json")
    assert schedules() == [(name, task, repr(w["id"]), Schedule.MINUTES, 120, -1)]
    second = Schedule.objects.get(name=name)
    assert second.pk == first.pk and second.next_run > first.next_run
    alice.patch(f"{URL}/{w['id']}", {"name": "Renamed"}, format="json")  # no interval change: same next run
    assert Schedule.objects.get(name=name).next_run == second.next_run
    alice.patch(f"{URL}/{w['id']}", {"scan_interval_minutes": None}, format="json")
    assert schedules() == []


def test_deleting_the_watchlist_or_its_owner_removes_the_schedule(alice):
    w = create(alice, name="Timed", scan_interval_minutes=30)
    create(alice, name="Also timed", scan_interval_minutes=45)
    alice.delete(f"{URL}/{w['id']}")
    assert [s[0] for s in schedules()] == [f"watchlist {Watchlist.objects.get().pk}"]
    User.objects.get(username="alice").delete()
    assert schedules() == [] and not Watchlist.objects.exists()


def test_anonymous_requests_are_a_401():
    for method, path in (("get", URL), ("post", URL), ("post", f"{URL}/create"), ("get", f"{URL}/1")):
        response = getattr(APIClient(), method)(path)
        assert response.status_code == 401, (method, path)
        assert response["WWW-Authenticate"] == "Token"


def test_a_token_works_as_well_as_a_session(coins):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=User.objects.create_user("carol"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post(URL, {"name": "Via token", "coins": ["BTC"]}, format="json").status_code == 201


def test_the_endpoints_are_in_the_openapi_schema():
    import yaml
    from drf_spectacular.validation import validate_schema

    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    validate_schema(schema)
    paths = schema["paths"]
    expected = {"/api/watchlists": {"get", "post"}, "/api/watchlists/create": {"post"},
                "/api/watchlists/{id}": {"get", "put", "patch", "delete"}, "/api/watchlists/{id}/scan": {"get"},
                "/api/watchlists/{id}/alerts": {"get"}, "/api/watchlists/{id}/coins": {"put"},
                "/api/account/alerts": {"get", "put"}}
    for path, methods in expected.items():
        assert set(paths[path]) - {"parameters"} == methods, path
    scan = paths["/api/watchlists/{id}/scan"]["get"]
    assert {p["name"] for p in scan["parameters"]} == {"id", "tier", "min_score", "scanner", "limit", "offset"}
    body = schema["components"]["schemas"][scan["responses"]["200"]["content"]["application/json"]["schema"]
                                           ["$ref"].rsplit("/", 1)[1]]
    ranking = schema["components"]["schemas"]["Ranking"]
    # The ranking's own rows: the same component, not a copy.
    assert body["properties"]["results"] == ranking["properties"]["results"]
    assert {"watchlist", "run", "not_scored", "not_trading"} <= set(body["properties"])
    assert "400" in paths["/api/watchlists"]["post"]["responses"]


def test_an_admin_edit_moves_the_schedule_too(admin_client, coins):
    owner = User.objects.create_user("dora")
    w = Watchlist.objects.create(owner=owner, name="Admin's", scan_interval_minutes=None)
    response = admin_client.post(f"/admin/watchlists/watchlist/{w.pk}/change/", {
        "owner": owner.pk, "name": "Admin's", "coins": [coins["BTCUSDT"].pk], "scan_interval_minutes": "45"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert schedules() == [(f"watchlist {w.pk}", "watchlists.tasks.scan_watchlist_task", repr(w.pk),
                            Schedule.MINUTES, 45, -1)]
    response = admin_client.post(f"/admin/watchlists/watchlist/{w.pk}/change/", {
        "owner": owner.pk, "name": "Admin's", "scan_interval_minutes": "5"})
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 15" in response.content.decode()
