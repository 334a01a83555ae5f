"""Actors and helpers of the alert tests, and a check that the fake transport keeps the real one's shape.

alice has a private chat, bob's chat is a group (negative id), charlie only wants tier 1.
The clock is frozen at NOW, two minutes after the candle the signals were computed on closed.
"""
from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from signals.models import AlertDelivery, Recipient, Signal
from signals.telegram import Sent, TelegramTransport, TransportError
from tests.api_factories import make_coin

CANDLE = datetime(2025, 11, 15, 8, 0, tzinfo=timezone.utc)
NOW = CANDLE + timedelta(minutes=2)


@dataclass
class Message:
    chat_id: object
    text: str
    silent: bool


class FakeTransport:
    """TelegramTransport's interface; `faults` are raised one per call before anything is sent."""

    def __init__(self, *faults: Exception | None):
        self.faults = list(faults)
        self.messages: list[Message] = []
        self.calls = 0
        self._ids = itertools.count(1000)

    def send(self, chat_id, text: str, *, silent: bool = False, preview: bool = False) -> Sent:
        self.calls += 1
        if self.faults:
            fault = self.faults.pop(0)
            if fault is not None:
                raise fault
        self.messages.append(Message(chat_id, text, silent))
        return Sent(next(self._ids), chat_id, int(NOW.timestamp()))

    @classmethod
    def from_settings(cls) -> "FakeTransport":
        return cls()


def too_many_requests(retry_after: float = 30) -> TransportError:
    return TransportError("Too Many Requests: retry after %d" % retry_after, permanent=False,
                          retry_after=retry_after, code=429)


def server_error() -> TransportError:
    return TransportError("Telegram sendMessage: Bad Gateway (safe to retry)", permanent=False, code=502)


def blocked() -> TransportError:
    return TransportError("Telegram sendMessage: Forbidden: bot was blocked by the user", permanent=True, code=403)


def chat_not_found() -> TransportError:
    return TransportError("Telegram sendMessage: Bad Request: chat not found", permanent=True, code=400)


def bad_html() -> TransportError:
    return TransportError("Bad Request: can't parse entities: unsupported start tag", permanent=True, code=400)


def timed_out_after_sending() -> TransportError:
    return TransportError("no answer within the timeout after the request was sent", permanent=False,
                          maybe_delivered=True)


def alice(**fields) -> Recipient:
    return Recipient.objects.create(name="alice", chat_id="1001", **fields)


def bob(**fields) -> Recipient:
    return Recipient.objects.create(name="bob's group", chat_id="-100200", **fields)


def charlie(**fields) -> Recipient:
    return Recipient.objects.create(name="charlie", chat_id="3003", wants_tier_2=False, wants_tier_3=False, **fields)


def coin(symbol: str = "ARBUSDT"):
    from marketdata.models import Coin

    return Coin.objects.filter(symbol=symbol).first() or make_coin(symbol)


def make_signal(symbol: str = "ARBUSDT", *, tier: int = 2, scanner: str = "smart_money", direction: str = "LONG",
                kind: str = "accumulating", candle: datetime = CANDLE, score: float = 8,
                score_metric: str = "accumulation", **fields) -> Signal:
    fields = {"reasons": ["accumulation: buy pressure 81.2% > 80 → +3"], "rules_matched": ["Accumulation 7–8"],
              "entry_price": 1.2345, "created_at": candle, **fields}
    return Signal.objects.create(coin=coin(symbol), scanner=scanner, kind=kind, direction=direction, tier=tier,
                                 score=score, score_metric=score_metric, candle_close_time=candle, **fields)


def queue(signal: Signal, recipient: Recipient, *, status: str = AlertDelivery.PENDING, at: datetime = NOW,
          **fields) -> AlertDelivery:
    return AlertDelivery.objects.create(signal=signal, recipient=recipient, status=status, next_attempt_at=at,
                                        **fields)


def sent_before(signal: Signal, recipient: Recipient, at: datetime) -> AlertDelivery:
    return queue(signal, recipient, status=AlertDelivery.SENT, sent_at=at, message_id=1)


def fresh(row: AlertDelivery) -> AlertDelivery:
    return AlertDelivery.objects.get(pk=row.pk)


def test_the_fake_transport_has_the_real_transports_interface():
    def shape(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert shape(FakeTransport.send) == shape(TelegramTransport.send)
    assert hasattr(FakeTransport, "from_settings")
    error = too_many_requests()
    assert (error.permanent, error.retry_after, error.maybe_delivered, error.code) == (False, 30, False, 429)
