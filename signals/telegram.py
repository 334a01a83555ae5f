"""Telegram transport: `sendMessage` over one pooled, synchronous httpx client.

Every outcome is either a `Sent` or a `TransportError` that the caller turns into stored state;
no httpx exception gets out. sendMessage has no idempotency key, so the error says whether the
message may have arrived: once the request's last byte has left (seen through httpcore's
`trace` extension), a lost answer means "maybe delivered" and must not be resent blindly.
The bot token is part of every URL; it is kept out of our messages and of httpx's log lines.
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)
MAX_MESSAGE_LENGTH = 4096  # characters of text after HTML parsing (Telegram's limit)
_TOKEN_IN_URL = re.compile(r"(/bot)\d+:[^/\s\"']+")
_known_tokens: set[str] = set()


class TransportError(Exception):
    """A send that did not succeed. `permanent`: retrying cannot help (blocked chat, bad token,
    invalid HTML). `retry_after`: seconds Telegram asked the whole bot to wait.
    `maybe_delivered`: the request reached the wire but its answer was lost: do not resend
    without a human or a reconciliation deciding to."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None,
                 maybe_delivered: bool = False, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_delivered = maybe_delivered
        self.code = code


@dataclass(frozen=True)
class Sent:
    message_id: int
    chat_id: int | str
    date: int


def escape(text: str) -> str:
    """Plain text for a message with parse_mode HTML (`&`, `<`, `>`; not for attributes)."""
    return html.escape(text, quote=False)


def redact(text: str) -> str:
    """`text` without any bot token: known tokens, and whatever follows `/bot` in a URL."""
    for token in _known_tokens:
        text = text.replace(token, "<token>").replace(quote(token, safe=""), "<token>")
    return _TOKEN_IN_URL.sub(r"\1<token>", text)


class _RedactTokens(logging.Filter):
    """httpx logs every request's URL at INFO; ours carry the token. (httpcore's debug lines
    show no URL.)"""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


logging.getLogger("httpx").addFilter(_RedactTokens())


class _Progress:
    """httpcore trace callback: has the whole request been handed to the network?"""

    def __init__(self) -> None:
        self.sent = False

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(".send_request_body.complete"):
            self.sent = True


class TelegramTransport:
    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        if token:
            _known_tokens.add(token)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_connections=4, max_keepalive_connections=4))

    @classmethod
    def from_settings(cls) -> "TelegramTransport":
        from django.conf import settings

        return cls(settings.TELEGRAM_API_URL, settings.TELEGRAM_BOT_TOKEN,
                   timeout=getattr(settings, "HTTP_TIMEOUT_SECONDS", 10.0))

    def send(self, chat_id: int | str, text: str, *, silent: bool = False,
             preview: bool = False) -> Sent:
        """Send `text` (Telegram HTML: escape() what is not markup) to `chat_id`."""
        body = {"chat_id": chat_id, "text": text, "parse_mode": "HTML",
                "disable_notification": silent,
                "link_preview_options": {"is_disabled": not preview}}
        result = self._call("sendMessage", body, f"chat {chat_id}")
        try:
            return Sent(int(result["message_id"]), chat_id, int(result["date"]))
        except (KeyError, TypeError, ValueError):
            raise TransportError(f"Telegram sendMessage to chat {chat_id}: HTTP 200 without a "
                                 "message_id; the message may have been delivered",
                                 permanent=False, maybe_delivered=True, code=200) from None

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> "TelegramTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the one place that talks HTTP ---------------------------------------------------------
    def _call(self, method: str, body: dict[str, Any], target: str) -> dict[str, Any]:
        where = f"Telegram {method} to {target}"
        if not self._token:
            raise TransportError(f"{where}: no bot token (TELEGRAM_BOT_TOKEN is empty)",
                                 permanent=True)
        progress = _Progress()
        try:
            response = self._client.post(f"{self.base_url}/bot{self._token}/{method}", json=body,
                                         timeout=self.timeout, extensions={"trace": progress})
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = self._network_error(where, exc, progress.sent)
        else:
            error = None
        if error is not None:  # raised here, outside the except, so no httpx exception is chained
            log.warning("%s", error.message)
            raise error
        outcome = self._answer(where, response)
        if isinstance(outcome, TransportError):
            log.warning("%s", outcome.message)
            raise outcome
        log.info("%s: sent (HTTP %s)", where, response.status_code)
        return outcome

    def _network_error(self, where: str, exc: Exception, sent: bool) -> TransportError:
        what = self._clean(f"{type(exc).__name__}: {exc}".rstrip(": "))
        if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return TransportError(f"{where}: bad TELEGRAM_API_URL {self._clean(self.base_url)!r} "
                                  f"({what})", permanent=True)
        if isinstance(exc, httpx.LocalProtocolError):  # we built an invalid request
            return TransportError(f"{where}: invalid request ({what})", permanent=True)
        if sent:
            lost = ("no answer within the timeout" if isinstance(exc, httpx.TimeoutException)
                    else "connection lost")
            return TransportError(f"{where}: {lost} after the request was sent ({what}); the "
                                  "message may have been delivered, do not resend blindly",
                                  permanent=False, maybe_delivered=True)
        return TransportError(f"{where}: the request did not reach Telegram ({what}); safe to "
                              "retry", permanent=False)

    def _answer(self, where: str, response: httpx.Response) -> dict[str, Any] | TransportError:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not (isinstance(body, dict) and isinstance(body.get("ok"), bool)):
            body = None  # not Telegram's envelope: a proxy's page, a cut-short body, ...
        if status == 200 and body is not None and body["ok"] and isinstance(body.get("result"),
                                                                            dict):
            return body["result"]
        if status == 200:
            return TransportError(f"{where}: HTTP 200 whose body is not Telegram's JSON; the "
                                  "message may have been delivered", permanent=False,
                                  maybe_delivered=True, code=200)
        description = self._clean(str(body.get("description") or "")) if body else ""
        said = description or f"HTTP {status} {response.reason_phrase}".strip()
        params = body.get("parameters") if body and isinstance(body.get("parameters"),
                                                                dict) else {}
        if status == 429:
            retry_after = _number(params.get("retry_after")) or _number(
                response.headers.get("retry-after"))
            return TransportError(f"{where}: {said}", permanent=False, retry_after=retry_after,
                                  code=429)
        if status >= 500:
            return TransportError(f"{where}: {said} (Telegram or its proxy failed; safe to "
                                  "retry)", permanent=False, code=status)
        if status == 401:
            return TransportError(f"{where}: bad bot token ({said})", permanent=True, code=401)
        if status == 400 and "can't parse entities" in description:
            return TransportError(f"{where}: our message is not valid Telegram HTML, a bug in "
                                  f"the message template or missing escape() ({said})",
                                  permanent=True, code=400)
        if params.get("migrate_to_chat_id"):
            said += f" (the group is now chat {params['migrate_to_chat_id']})"
        # 403 blocked/kicked, 400 chat not found, other 4xx: sending again cannot help.
        return TransportError(f"{where}: {said}", permanent=True, code=status)

    def _clean(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "<token>")
        return redact(text)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
