"""The simulator's Telegram Bot API over loopback HTTP: Telegram's envelopes, its HTML rules and
limits, blocked and unknown chats, the faults a test arms at runtime, and the inbox."""
from __future__ import annotations

import httpx
import pytest

from marketdata.simulator.server import SimulatorServer
from marketdata.simulator.telegram import parse_html
from marketdata.simulator.testing import FakeClock

T0 = 1_800_000_040.0  # 40 s into a 60 s window, at the start of a second
TOKEN = "123456:ABC-def_ghi"
ALICE, BOB, GROUP = 1001, 1002, -2001


@pytest.fixture
def clock():
    return FakeClock(T0)


@pytest.fixture
def sim(clock):
    with SimulatorServer(coins=60, clock=clock, telegram_blocked=(BOB,),
                         telegram_unknown=(666, "@ghostchannel")) as server:
        yield server


@pytest.fixture
def api(sim):
    with httpx.Client(base_url=sim.base_url, timeout=5) as client:
        yield client


def send(api, chat_id, text, token=TOKEN, **extra):
    return api.post(f"/telegram/bot{token}/sendMessage",
                    json={"chat_id": chat_id, "text": text, **extra})


def html(api, chat_id, text):
    return send(api, chat_id, text, parse_mode="HTML")


def arm(api, **faults):
    r = api.post("/sim/telegram/faults", json=faults)
    assert r.status_code == 200, r.text
    return r.json()


def inbox(api, **params):
    return api.get("/sim/telegram/messages", params=params).json()


def test_a_message_is_accepted_with_telegrams_envelope(api):
    r = html(api, ALICE, "<b>BTC</b> accumulation")
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True
    res = body["result"]
    assert res["message_id"] == 1 and res["date"] == int(T0) and res["text"] == "BTC accumulation"
    assert res["from"] == {"id": 123456, "is_bot": True, "first_name": "CryptoSatX Sim",
                           "username": "cryptosatx_sim_bot"}
    assert res["chat"]["id"] == ALICE and res["chat"]["type"] == "private"
    assert res["entities"] == [{"offset": 0, "length": 3, "type": "bold"}]


def test_negative_ids_are_groups_and_usernames_are_channels(api):
    group = send(api, GROUP, "hi").json()["result"]["chat"]
    assert group["id"] == GROUP and group["type"] == "group"
    channel = send(api, "@cryptosatx_alerts", "hi").json()["result"]["chat"]
    assert channel["type"] == "channel" and channel["username"] == "cryptosatx_alerts"
    assert isinstance(channel["id"], int) and channel["id"] < 0
    assert send(api, str(ALICE), "digits in a string are an id").json()["result"]["chat"]["id"] \
        == ALICE


def test_get_me_answers_get_and_post(api):
    for r in (api.get(f"/telegram/bot{TOKEN}/getMe"), api.post(f"/telegram/bot{TOKEN}/getMe")):
        assert r.status_code == 200
        assert r.json()["ok"] and r.json()["result"]["id"] == 123456
        assert r.json()["result"]["is_bot"] is True


@pytest.mark.parametrize("token", ["nodigits", "123456", "abc:def", ":xyz"])
def test_a_malformed_token_is_unauthorized(api, token):
    for r in (api.get(f"/telegram/bot{token}/getMe"), send(api, ALICE, "x", token=token)):
        assert r.status_code == 401
        assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


def test_an_unknown_method_is_not_found(api):
    r = api.post(f"/telegram/bot{TOKEN}/sendTelepathy", json={})
    assert r.status_code == 404 and r.json()["description"] == "Not Found"


@pytest.mark.parametrize("text", ["", "   \n ", "<b> </b>"])
def test_an_empty_text_is_refused(api, text):
    r = html(api, ALICE, text)
    assert r.status_code == 400
    assert r.json() == {"ok": False, "error_code": 400,
                        "description": "Bad Request: message text is empty"}


def test_the_length_limit_counts_text_after_entity_parsing(api, clock):
    assert send(api, ALICE, "x" * 4096).status_code == 200
    clock.advance(1)
    r = send(api, ALICE, "x" * 4097)
    assert r.status_code == 400 and r.json()["description"] == "Bad Request: message is too long"
    # markup does not count and an entity is one character
    r = html(api, ALICE, "<b>" + "x" * 4094 + "</b>&lt;&gt;&amp;")
    assert r.status_code == 400 and "too long" in r.json()["description"]
    r = html(api, ALICE, "<b>" + "x" * 4093 + "</b>&lt;&gt;&amp;")
    assert r.status_code == 200 and len(r.json()["result"]["text"]) == 4096


def test_good_html_is_parsed_into_entities(api):
    text = ('<b>bold</b> <strong>s</strong> <i>i</i><em>e</em> <u>u</u><ins>n</ins> <s>s</s>'
            '<strike>k</strike><del>d</del> <a href="https://x.io/?a=1&amp;b=2">link</a> '
            "<code>c</code> <pre><code>p</code></pre> <tg-spoiler>sp</tg-spoiler> "
            "<blockquote>q</blockquote> <B>case</B> 5 &gt; 3 &lt; 4 &quot;&#65;&#x42;\" > ok")
    r = html(api, ALICE, text)
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["text"] == ('bold s ie un skd link c p sp q case 5 > 3 < 4 "AB" > ok')
    types = [e["type"] for e in res["entities"]]
    assert {"bold", "italic", "underline", "strikethrough", "text_link", "code", "pre",
            "spoiler", "blockquote"} <= set(types)
    link = next(e for e in res["entities"] if e["type"] == "text_link")
    assert link["url"] == "https://x.io/?a=1&b=2"
    assert res["text"][link["offset"]:link["offset"] + link["length"]] == "link"


@pytest.mark.parametrize("text,why", [
    ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
    ("<b>x", "Can't find end tag corresponding to start tag \"b\""),
    ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("BTC < ETH", 'Unsupported start tag "" at byte offset 4'),
    ("BTC <", "Unclosed start tag at byte offset 4"),
    ("Q&A", 'Unescaped "&" at byte offset 1'),
    ("&nbsp;", 'Unescaped "&" at byte offset 0'),
    ('<a href=x"y">x</a>', "Unexpected end of name token at byte offset 8"),
    ("é<br>", 'Unsupported start tag "br" at byte offset 2'),  # byte offsets count UTF-8
])
def test_malformed_html_cannot_be_parsed(api, text, why):
    r = html(api, ALICE, text)
    assert r.status_code == 400
    body = r.json()
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: can't parse entities: ")
    assert why in body["description"]


def test_without_parse_mode_the_text_is_taken_as_it_is(api):
    r = send(api, ALICE, "Q&A <not a tag>")
    assert r.status_code == 200 and r.json()["result"]["text"] == "Q&A <not a tag>"
    assert send(api, BOB + 1, "x", parse_mode="MarkdownV2").json()["description"] \
        == "Bad Request: unsupported parse_mode"


def test_a_chat_gets_one_message_per_second(api, clock):
    assert send(api, ALICE, "one").status_code == 200
    r = send(api, ALICE, "two")
    assert r.status_code == 429
    assert r.json() == {"ok": False, "error_code": 429,
                        "description": "Too Many Requests: retry after 1",
                        "parameters": {"retry_after": 1}}
    assert send(api, ALICE + 5, "another chat is not held back").status_code == 200
    clock.advance(1)
    assert send(api, ALICE, "two").json()["result"]["message_id"] == 2
    assert [m["text"] for m in inbox(api, chat_id=ALICE)] == ["one", "two"]


def test_a_group_gets_twenty_messages_per_minute(api, clock):
    clock.t = 1_800_000_000.0  # the start of a window
    for i in range(20):
        assert send(api, GROUP, f"m{i}").status_code == 200, i
        clock.advance(1)
    r = send(api, GROUP, "m20")
    assert r.status_code == 429 and r.json()["parameters"]["retry_after"] == 40
    assert send(api, ALICE, "a private chat is not a group").status_code == 200
    clock.advance(40)
    assert send(api, GROUP, "m20").status_code == 200


def test_the_minute_follows_window_seconds():
    clock = FakeClock(1_800_000_000.0)
    with SimulatorServer(coins=60, clock=clock, window_seconds=30) as s, \
            httpx.Client(base_url=s.base_url) as api:
        for i in range(20):
            assert send(api, GROUP, f"m{i}").status_code == 200
            clock.advance(1)
        r = send(api, GROUP, "late")
        assert r.status_code == 429 and r.json()["parameters"]["retry_after"] == 10
        clock.advance(10)
        assert send(api, GROUP, "next window").status_code == 200


def test_a_bot_gets_thirty_messages_per_second(api, clock):
    for chat in range(1, 31):
        assert send(api, chat, "x").status_code == 200
    r = send(api, 31, "x")
    assert r.status_code == 429 and r.json()["parameters"]["retry_after"] == 1
    other_bot = send(api, 31, "x", token="999:other")
    assert other_bot.status_code == 200  # the limit is per bot
    clock.advance(1)
    assert send(api, 31, "x").status_code == 200


def test_blocked_and_unknown_chats(api):
    r = send(api, BOB, "x")
    assert r.status_code == 403
    assert r.json() == {"ok": False, "error_code": 403,
                        "description": "Forbidden: bot was blocked by the user"}
    for chat in (666, "666", "@ghostchannel", "not-a-chat", 3.5):
        r = send(api, chat, "x")
        assert r.status_code == 400, chat
        assert r.json()["description"] == "Bad Request: chat not found"
    assert inbox(api) == []


def test_injected_429_pauses_the_whole_bot_until_retry_after_has_passed(api, clock):
    arm(api, retry_after=35, count=2)
    r = send(api, ALICE, "x")
    assert r.status_code == 429
    assert r.json() == {"ok": False, "error_code": 429,
                        "description": "Too Many Requests: retry after 35",
                        "parameters": {"retry_after": 35}}
    clock.advance(10)
    r = send(api, ALICE + 1, "another chat")  # the whole bot waits
    assert r.status_code == 429 and r.json()["parameters"]["retry_after"] == 25
    assert api.get(f"/telegram/bot{TOKEN}/getMe").status_code == 200
    clock.advance(25)
    assert send(api, ALICE, "x").json()["parameters"]["retry_after"] == 35  # the second one
    clock.advance(35)
    assert send(api, ALICE, "x").status_code == 200
    assert [m["text"] for m in inbox(api)] == ["x"]
    assert arm(api)["injected"]["retry_after"] == 2


def test_injected_server_errors_are_html_502s_and_nothing_is_stored(api):
    arm(api, server_error=2)
    for _ in range(2):
        r = send(api, ALICE, "x")
        assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
        assert b"502 Bad Gateway" in r.content
    assert inbox(api) == []
    assert send(api, ALICE, "x").status_code == 200


def test_timeout_after_accept_stores_the_message_but_holds_the_answer():
    with SimulatorServer(coins=60, timeout_seconds=0.5) as s, \
            httpx.Client(base_url=s.base_url, timeout=5) as api:
        arm(api, timeout_after_accept=1)
        with pytest.raises(httpx.ReadTimeout):
            api.post(f"/telegram/bot{TOKEN}/sendMessage", json={"chat_id": ALICE, "text": "late"},
                     timeout=0.15)
        (stored,) = inbox(api)
        assert stored["text"] == "late" and stored["message_id"] == 1
        assert arm(api, hold_seconds=0.0, timeout_after_accept=1)["armed"]["hold_seconds"] == 0
        assert send(api, ALICE + 1, "held for 0 s").status_code == 200


def test_drop_connection_resets_the_next_connection_before_reading_it(sim, api):
    arm(api, drop_connection=1)
    with pytest.raises(httpx.TransportError):  # a fresh connection: this one is reset
        httpx.post(f"{sim.base_url}/telegram/bot{TOKEN}/sendMessage",
                   json={"chat_id": ALICE, "text": "lost"})
    assert inbox(api) == []
    assert arm(api)["injected"]["drop_connection"] == 1
    assert send(api, ALICE, "the fault was one-shot").status_code == 200


def test_clear_disarms_every_fault(api):
    arm(api, retry_after=5, server_error=3, timeout_after_accept=1, drop_connection=2)
    state = arm(api, clear=True)
    assert state["armed"] == {"retry_after": 0, "count": 0, "server_error": 0,
                              "timeout_after_accept": 0, "hold_seconds": None,
                              "drop_connection": 0}
    assert send(api, ALICE, "x").status_code == 200


def test_bad_fault_requests_are_refused(api):
    for body in ({"retry_after": 0}, {"server_error": -1}, {"count": 2}, {"explode": 1}, [1]):
        assert api.post("/sim/telegram/faults", json=body).status_code == 400, body


def test_generic_fault_rates_apply_to_telegram_but_not_to_sim_endpoints():
    with SimulatorServer(coins=60, error_rate=1.0) as s, \
            httpx.Client(base_url=s.base_url) as api:
        rs = [send(api, chat, "x") for chat in range(1, 9)]
        assert all(r.status_code >= 500 for r in rs)
        js = [r.json() for r in rs if r.headers["content-type"] == "application/json"]
        assert all(b["ok"] is False and b["error_code"] >= 500 for b in js)
        assert inbox(api) == [] and arm(api)["messages"] == 0


def test_the_inbox_lists_what_was_accepted_in_order_and_can_be_cleared(api, clock):
    send(api, ALICE, "a1", disable_notification=True)
    html(api, GROUP, "<i>g1</i>")
    clock.advance(1.5)
    send(api, ALICE, "a2", link_preview_options={"is_disabled": True})
    send(api, "@cryptosatx_alerts", "c1")
    everything = inbox(api)
    assert [(m["chat_id"], m["message_id"], m["text"]) for m in everything][:3] == [
        (ALICE, 1, "a1"), (GROUP, 1, "<i>g1</i>"), (ALICE, 2, "a2")]
    first = everything[0]
    assert first == {"message_id": 1, "chat_id": ALICE, "text": "a1", "parse_mode": None,
                     "disable_notification": True, "date": int(T0), "received_at": T0,
                     "plain_text": "a1", "link_preview_disabled": False, "bot_id": 123456}
    assert everything[1]["parse_mode"] == "HTML" and everything[1]["plain_text"] == "g1"
    assert everything[2]["received_at"] == T0 + 1.5 and everything[2]["link_preview_disabled"]
    assert [m["text"] for m in inbox(api, chat_id=ALICE)] == ["a1", "a2"]
    assert [m["text"] for m in inbox(api, chat_id="@cryptosatx_alerts")] == ["c1"]
    assert api.delete("/sim/telegram/messages").status_code == 200
    assert inbox(api) == []
    clock.advance(1)
    assert send(api, ALICE, "a3").json()["result"]["message_id"] == 3  # ids keep counting


def test_message_ids_count_up_per_chat_from_one(api, clock):
    ids = []
    for _ in range(3):
        ids += [send(api, chat, "x").json()["result"]["message_id"] for chat in (ALICE, GROUP, 7)]
        clock.advance(1)
    assert ids == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_the_parser_is_usable_without_a_server():
    assert parse_html("<b>a</>b") == ("ab", [{"offset": 0, "length": 1, "type": "bold"}])
    text, entities = parse_html("😀<i>x</i>")  # offsets count UTF-16 code units, as Telegram's
    assert entities == [{"offset": 2, "length": 1, "type": "italic"}]


def test_marketsim_flags_reach_the_server(monkeypatch):
    from django.core.management import call_command

    from marketdata.management.commands import marketsim

    seen = {}

    class Recorder:
        def __init__(self, **kw):
            seen.update(kw)
            self.base_url, self.httpd = "http://127.0.0.1:0", None

        def warm_in_background(self):
            pass

        def serve_forever(self):
            pass

    monkeypatch.setattr(marketsim, "SimulatorServer", Recorder)
    monkeypatch.setattr(marketsim.signal, "signal", lambda *a: None)
    call_command("marketsim", "--port", "0", "--telegram-blocked=-100,42,@someone",
                 "--telegram-unknown", "7")
    assert seen["telegram_blocked"] == (-100, 42, "@someone")
    assert seen["telegram_unknown"] == (7,)
