"""Telegram Bot API (`/telegram/bot<token>/sendMessage`, `/getMe`) with Telegram's answers,
limits and HTML rules, an inbox of what it accepted, and faults a test switches on at runtime.

- Replies are Telegram's envelopes: `{"ok": true, "result": ...}` or `{"ok": false,
  "error_code", "description"[, "parameters": {"retry_after"}]}`.
- Limits as Telegram documents them, per bot: 1 message per second per chat, 20 per "minute"
  (`window_seconds`) per group or channel, 30 per second overall. Fixed windows aligned to the
  epoch, like the other services; a refused message is not counted.
- `POST /sim/telegram/faults` arms one-shot faults (see `TelegramSim.arm`);
  `GET|DELETE /sim/telegram/messages` is the inbox. Both belong to the `sim` service: never
  delayed or faulted. The generic `--error-rate` etc. still apply to the bot endpoints.
"""
from __future__ import annotations

import json
import math
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .faults import HTML_502
from .ratelimit import CountLimiter
from .server import Reply, Request, Route, Service

if TYPE_CHECKING:
    from .server import SimulatorServer

SERVICE = "telegram"
BOT_PREFIX = "/telegram/bot"
MAX_LENGTH = 4096  # characters of the text after entity parsing
PER_CHAT_PER_SECOND, PER_GROUP_PER_MINUTE, PER_BOT_PER_SECOND = 1, 20, 30
_TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]+$")
_USERNAME_RE = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_INT_RE = re.compile(r"^-?\d{1,19}$")


# ---- Telegram's HTML ------------------------------------------------------------------------
TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
        "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
        "del": "strikethrough", "a": "text_link", "code": "code", "pre": "pre",
        "tg-spoiler": "spoiler", "blockquote": "blockquote"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}  # the only named entities Telegram knows
_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));")


class HtmlError(ValueError):
    """Text that Telegram refuses with "Bad Request: can't parse entities: <message>"."""


def _utf16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def _entity(text: str, i: int) -> tuple[str, int]:
    """The character of the entity at text[i] == '&' and the index after it."""
    m = _ENTITY_RE.match(text, i)
    if m:
        named, dec, hexa = m.groups()
        if named:
            return _NAMED[named], m.end()
        code = int(dec) if dec else int(hexa, 16)
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), m.end()
    # Stricter than Telegram, which shows such an '&' as it is: an unescaped '&' is our bug.
    raise HtmlError(f'Unescaped "&" at byte offset {_byte(text, i)}: write &amp;')


def _byte(text: str, i: int) -> int:
    return len(text[:i].encode())


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) as Telegram's parser makes them, or HtmlError.

    Follows tdlib's parse_html: tags are case-insensitive, must nest, `</>` closes the innermost
    one, attribute values are quoted or name tokens; entity offsets count UTF-16 code units."""
    out: list[str] = []
    pos16 = 0  # UTF-16 length of what is in `out`
    stack: list[tuple[str, str | None, int]] = []  # (tag, argument, start offset)
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            ch, i = _entity(text, i)
            out.append(ch)
            pos16 += _utf16(ch)
            continue
        if c != "<":
            out.append(c)
            pos16 += 2 if ord(c) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if text.startswith("</", i):
            if not stack:
                raise HtmlError(f"Unexpected end tag at byte offset {_byte(text, begin)}")
            j = i + 2
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            name = text[i + 2:j].lower()
            while j < n and text[j].isspace():
                j += 1
            if j >= n or text[j] != ">":
                raise HtmlError(f"Unclosed end tag at byte offset {_byte(text, begin)}")
            tag, arg, start = stack.pop()
            if name and name != tag:
                raise HtmlError(f"Unmatched end tag at byte offset {_byte(text, begin)}, "
                                f'expected "</{tag}>", found "</{name}>"')
            if pos16 > start and not (tag == "a" and not arg):
                e: dict[str, Any] = {"offset": start, "length": pos16 - start, "type": TAGS[tag]}
                if tag == "a":
                    e["url"] = arg
                entities.append(e)
            i = j + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
        tag = text[i + 1:j].lower()
        if tag not in TAGS:
            raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {_byte(text, begin)}')
        arg, i = _attributes(text, j, tag, begin)
        stack.append((tag, arg, pos16))
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _attributes(text: str, i: int, tag: str, begin: int) -> tuple[str | None, int]:
    """Read a start tag's attributes from text[i] up to its '>': (href of an <a>, index after)."""
    n, href = len(text), None
    unclosed = HtmlError(f"Unclosed start tag at byte offset {_byte(text, begin)}")
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise unclosed
        if text[i] == ">":
            return href, i + 1
        a = i
        while i < n and not text[i].isspace() and text[i] not in "=>":
            i += 1
        name = text[a:i].lower()
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset '
                            f"{_byte(text, begin)}")
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            raise HtmlError(f'Expected equal sign in declaration of an attribute of the tag '
                            f'"{tag}" at byte offset {_byte(text, begin)}')
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise unclosed
        value: list[str] = []
        if text[i] in "'\"":
            quote, i = text[i], i + 1
            while i < n and text[i] != quote:
                if text[i] == "&":
                    ch, i = _entity(text, i)
                    value.append(ch)
                else:
                    value.append(text[i])
                    i += 1
            if i >= n:
                raise unclosed
            i += 1
        else:  # a name token: letters, digits, '.', '-'
            a = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            if i < n and not text[i].isspace() and text[i] != ">":
                raise HtmlError(f"Unexpected end of name token at byte offset {_byte(text, a)}")
            value.append(text[a:i].lower())
        if tag == "a" and name == "href":
            href = "".join(value)


def visible(plain: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims the text's outer whitespace; entities move and shrink with it."""
    stripped = plain.strip()
    lead = _utf16(plain[:len(plain) - len(plain.lstrip())])
    end = lead + _utf16(stripped)
    kept = []
    for e in entities:
        lo, hi = max(e["offset"], lead), min(e["offset"] + e["length"], end)
        if hi > lo:
            kept.append({**e, "offset": lo - lead, "length": hi - lo})
    return stripped, kept


# ---- state ----------------------------------------------------------------------------------
def chat_key(raw: Any) -> int | str | None:
    """A chat_id as Telegram accepts it (an integer, digits in a string, or @username)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw or None
    if isinstance(raw, str):
        s = raw.strip()
        if _INT_RE.match(s):
            return int(s) or None
        if _USERNAME_RE.match(s):
            return s.lower()
    return None


def chat_json(key: int | str, raw: Any) -> dict[str, Any]:
    if isinstance(key, str):  # @username: a public channel, with a stable made-up id
        name = str(raw).strip()[1:]
        return {"id": -1_000_000_000_000 - zlib.crc32(key.encode()), "title": name,
                "username": name, "type": "channel"}
    if key < 0:
        return {"id": key, "title": f"Group {-key}", "type": "group",
                "all_members_are_administrators": True}
    return {"id": key, "first_name": f"User {key}", "type": "private"}


@dataclass
class _Armed:
    retry_after: int = 0  # seconds of the injected 429s
    retry_count: int = 0
    server_error: int = 0
    timeout_after_accept: int = 0
    hold_seconds: float | None = None  # default: the server's timeout_seconds
    drop_connection: int = 0


@dataclass
class TelegramSim:
    """The simulated Telegram's state; every method takes the lock (the server is threaded)."""

    clock: Any
    window_seconds: float
    blocked: set = field(default_factory=set)
    unknown: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.inbox: list[dict[str, Any]] = []
        self.last_id: dict[int | str, int] = {}
        self.armed = _Armed()
        self.paused_until: dict[str, float] = {}  # bot id -> end of its injected flood pause
        self.injected = {"retry_after": 0, "server_error": 0, "timeout_after_accept": 0,
                         "drop_connection": 0}
        self.per_chat = CountLimiter(PER_CHAT_PER_SECOND, 1.0, self.clock)
        self.per_group = CountLimiter(PER_GROUP_PER_MINUTE, self.window_seconds, self.clock)
        self.per_bot = CountLimiter(PER_BOT_PER_SECOND, 1.0, self.clock)

    def arm(self, body: dict[str, Any]) -> None:
        """Set one-shot faults (each value replaces the armed count):
        `retry_after` N [+ `count` k]: the next k sends (1 by default) are refused with 429 and
        retry_after N, and every send is refused until N seconds after each of them, as Telegram
        pauses the whole bot; `server_error` k: 502 with an HTML page; `timeout_after_accept` k
        [+ `hold_seconds`]: stored, then the answer is held; `drop_connection` k: the next k
        TCP connections are reset before anything is read; `clear`: forget all of it."""
        with self.lock:
            if body.get("clear"):
                self.armed, self.paused_until = _Armed(), {}
            if "retry_after" in body:
                self.armed.retry_after = body["retry_after"]
                self.armed.retry_count = body.get("count", 1)
            for key in ("server_error", "timeout_after_accept", "hold_seconds",
                        "drop_connection"):
                if key in body:
                    setattr(self.armed, key, body[key])

    def take_drop(self) -> bool:
        with self.lock:
            if self.armed.drop_connection <= 0:
                return False
            self.armed.drop_connection -= 1
            self.injected["drop_connection"] += 1
            return True

    def injected_reply(self, bot: str) -> Reply | None:
        """The answer of an armed fault that refuses this send before Telegram looks at it."""
        now = self.clock()
        with self.lock:
            a = self.armed
            until = self.paused_until.get(bot, 0.0)
            if now < until:
                wait = max(1, math.ceil(until - now))
                return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
            if a.retry_count > 0:
                a.retry_count -= 1
                self.injected["retry_after"] += 1
                self.paused_until[bot] = now + a.retry_after
                return _error(429, f"Too Many Requests: retry after {a.retry_after}",
                              retry_after=a.retry_after)
            if a.server_error > 0:
                a.server_error -= 1
                self.injected["server_error"] += 1
                return Reply(502, HTML_502, content_type="text/html")
        return None

    def take_hold(self, default: float) -> float | None:
        """Seconds to hold the answer to a message just accepted, if that fault is armed."""
        with self.lock:
            a = self.armed
            if a.timeout_after_accept <= 0:
                return None
            a.timeout_after_accept -= 1
            self.injected["timeout_after_accept"] += 1
            return default if a.hold_seconds is None else a.hold_seconds

    def charge(self, bot: str, key: int | str) -> int | None:
        """Count a message against the limits, or the seconds to wait (nothing counted)."""
        limits = [(self.per_chat, f"{bot}|{key}"), (self.per_bot, bot)]
        if not (isinstance(key, int) and key > 0):
            limits.append((self.per_group, f"{bot}|{key}"))
        now = self.clock()
        with self.lock:
            waits = [max(1, math.ceil(end - now)) for lim, k in limits
                     for left, end in [lim.state(k)] if left <= 0]
            if waits:
                return max(waits)
            for lim, k in limits:
                lim.charge(k)
        return None

    def store(self, bot: str, key: int | str, chat: dict[str, Any], text: str, plain: str,
              p: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        with self.lock:
            message_id = self.last_id[key] = self.last_id.get(key, 0) + 1
            self.inbox.append({
                "message_id": message_id, "chat_id": chat["id"], "text": text,
                "parse_mode": p.get("parse_mode") or None,
                "disable_notification": _bool(p.get("disable_notification")),
                "date": int(now), "received_at": now, "plain_text": plain,
                "link_preview_disabled": _preview_disabled(p.get("link_preview_options")),
                "bot_id": int(bot)})
        return {"message_id": message_id, "date": int(now)}

    def messages(self, chat: int | str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self.inbox if chat is None or m["chat_id"] == chat]

    def state(self) -> dict[str, Any]:
        now = self.clock()
        with self.lock:
            a = self.armed
            return {"armed": {"retry_after": a.retry_after if a.retry_count else 0,
                              "count": a.retry_count, "server_error": a.server_error,
                              "timeout_after_accept": a.timeout_after_accept,
                              "hold_seconds": a.hold_seconds,
                              "drop_connection": a.drop_connection},
                    "paused_until": {b: t for b, t in self.paused_until.items() if t > now},
                    "injected": dict(self.injected), "messages": len(self.inbox),
                    "blocked": sorted(map(str, self.blocked)),
                    "unknown": sorted(map(str, self.unknown)),
                    "limits": {"per_chat_per_second": PER_CHAT_PER_SECOND,
                               "per_group_per_window": PER_GROUP_PER_MINUTE,
                               "per_bot_per_second": PER_BOT_PER_SECOND,
                               "window_seconds": self.window_seconds}}


# ---- wire -----------------------------------------------------------------------------------
def _error(code: int, description: str, retry_after: int | None = None) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return Reply(code, body)


def _bool(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() in ("true", "1")) or v == 1


def _preview_disabled(v: Any) -> bool:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return False
    return isinstance(v, dict) and _bool(v.get("is_disabled"))


def _params(req: Request) -> dict[str, Any] | None:
    """Telegram takes parameters from the query string, a form or a JSON object."""
    params: dict[str, Any] = dict(req.params)
    if req.body:
        if "json" in req.headers.get("content-type", ""):
            try:
                body = req.json()
            except ValueError:
                return None
            if not isinstance(body, dict):
                return None
            params.update(body)
        else:
            params.update(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _bot_user(bot: str) -> dict[str, Any]:
    return {"id": int(bot), "is_bot": True, "first_name": "CryptoSatX Sim",
            "username": "cryptosatx_sim_bot"}


def _reset_connection(sock: socket.socket) -> None:
    """Close with RST (linger 0): the peer sees "connection reset", nothing was read."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def install(sim: "SimulatorServer") -> None:
    tg = TelegramSim(sim.clock, sim.window_seconds,
                     {k for k in map(chat_key, sim.telegram_blocked) if k is not None},
                     {k for k in map(chat_key, sim.telegram_unknown) if k is not None})
    sim.telegram = tg  # type: ignore[attr-defined]
    sim.add_service(Service(SERVICE, error_body=lambda status: {
        "ok": False, "error_code": status, "description": HTTPStatus(status).phrase}))
    hooked = threading.Event()

    def hook_accept() -> None:
        """drop_connection acts before any request is read, so it sits at accept(). Hooked on
        first use: the HTTP server does not exist yet while services are installed."""
        if hooked.is_set():
            return
        hooked.set()
        httpd = sim.httpd
        verify = httpd.verify_request

        def verify_request(request: Any, client_address: Any) -> bool:
            if tg.take_drop():
                _reset_connection(request)
                return False
            return verify(request, client_address)

        httpd.verify_request = verify_request  # type: ignore[method-assign]

    def bot_api(req: Request) -> Reply:
        token, _, method = req.path[len(BOT_PREFIX):].partition("/")
        m = _TOKEN_RE.match(token)
        if not m:
            return _error(401, "Unauthorized")
        bot, method = m.group(1), method.lower()
        if method == "getme":
            return Reply(200, {"ok": True, "result": {
                **_bot_user(bot), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}})
        if method == "sendmessage":
            return send_message(bot, req)
        return _error(404, "Not Found")

    def send_message(bot: str, req: Request) -> Reply:
        refused = tg.injected_reply(bot)
        if refused is not None:
            return refused
        p = _params(req)
        if p is None:
            return _error(400, "Bad Request: can't parse JSON object")
        raw_chat = p.get("chat_id")
        if raw_chat is None or raw_chat == "":
            return _error(400, "Bad Request: chat_id is empty")
        text = p.get("text")
        text = "" if text is None else str(text)
        mode = str(p.get("parse_mode") or "")
        if mode and mode.lower() != "html":
            return _error(400, "Bad Request: unsupported parse_mode")  # only HTML is simulated
        key = chat_key(raw_chat)
        if key is None or key in tg.unknown:
            return _error(400, "Bad Request: chat not found")
        if key in tg.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        try:
            plain, entities = parse_html(text) if mode else (text, [])
        except HtmlError as exc:
            return _error(400, f"Bad Request: can't parse entities: {exc}")
        plain, entities = visible(plain, entities)
        if not plain:
            return _error(400, "Bad Request: message text is empty")
        if len(plain) > MAX_LENGTH:
            return _error(400, "Bad Request: message is too long")
        wait = tg.charge(bot, key)
        if wait is not None:
            return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        chat = chat_json(key, raw_chat)
        stored = tg.store(bot, key, chat, text, plain, p)
        result = {"message_id": stored["message_id"], "from": _bot_user(bot), "chat": chat,
                  "date": stored["date"], "text": plain}
        if entities:
            result["entities"] = entities
        hold = tg.take_hold(sim.faults.timeout_seconds)
        if hold is not None:  # accepted and stored; the answer comes after the client gave up
            time.sleep(hold)
        return Reply(200, {"ok": True, "result": result})

    for method in ("GET", "POST"):
        sim.add_route(method, BOT_PREFIX, Route(SERVICE, bot_api, 1), prefix=True)

    # ---- /sim/telegram/*: the inbox and the fault switchboard ----------------------------------
    def messages(req: Request) -> Reply:
        if req.method == "DELETE":
            with tg.lock:
                tg.inbox.clear()  # message ids keep counting, as a chat's history would
            return Reply(200, {"ok": True})
        raw = req.params.get("chat_id")
        if raw is None:
            return Reply(200, tg.messages())
        key = chat_key(raw)
        if key is None:
            return Reply(400, {"error": "chat_id must be an integer or @username"})
        return Reply(200, tg.messages(chat_json(key, raw)["id"]))

    def faults(req: Request) -> Reply:
        if req.method == "POST":
            try:
                body = req.json()
            except ValueError:
                body = None
            problem = _check_faults(body)
            if problem:
                return Reply(400, {"error": problem})
            tg.arm(body)
            if body.get("drop_connection"):
                hook_accept()
        return Reply(200, tg.state())

    for method in ("GET", "DELETE"):
        sim.add_route(method, "/sim/telegram/messages", Route("sim", messages, 0))
    for method in ("GET", "POST"):
        sim.add_route(method, "/sim/telegram/faults", Route("sim", faults, 0))


_COUNTS = ("count", "server_error", "timeout_after_accept", "drop_connection")


def _check_faults(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "send a JSON object"
    unknown = set(body) - {"retry_after", "hold_seconds", "clear", *_COUNTS}
    if unknown:
        return f"unknown keys: {', '.join(sorted(unknown))}"
    for k in _COUNTS:
        if k in body and (not isinstance(body[k], int) or isinstance(body[k], bool)
                          or body[k] < 0):
            return f"{k} must be a whole number >= 0"
    if "retry_after" in body and (not isinstance(body["retry_after"], int)
                                  or isinstance(body["retry_after"], bool)
                                  or body["retry_after"] < 1):
        return "retry_after must be a whole number of seconds >= 1"
    if "count" in body and "retry_after" not in body:
        return "count goes with retry_after"
    if "hold_seconds" in body and (not isinstance(body["hold_seconds"], (int, float))
                                   or isinstance(body["hold_seconds"], bool)
                                   or body["hold_seconds"] < 0):
        return "hold_seconds must be a number >= 0"
    return None
