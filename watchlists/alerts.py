"""Which coins a user's alerts are limited to: the coins of their alert-enabled watchlists. A user
with no alert-enabled watchlist gets every alert they opted into. Handed to signals.outbox."""
from __future__ import annotations

from collections import defaultdict

from signals.models import Recipient

from .models import Watchlist


def coin_limits(recipients: list[Recipient]) -> dict[int, set[int]]:
    """{recipient id: coin ids} for the user recipients whose owner has an alert-enabled watchlist
    (an empty watchlist limits them to nothing). One query."""
    by_user: dict[int, list[int]] = defaultdict(list)
    for r in recipients:
        if r.kind == Recipient.USER and r.user_id is not None:
            by_user[r.user_id].append(r.pk)
    if not by_user:
        return {}
    coins: dict[int, set[int]] = {}
    rows = Watchlist.objects.filter(owner_id__in=by_user, alerts_enabled=True).values_list("owner_id", "coins")
    for owner_id, coin_id in rows:
        coins.setdefault(owner_id, set())
        if coin_id is not None:
            coins[owner_id].add(coin_id)
    return {pk: coins[user_id] for user_id, pks in by_user.items() if user_id in coins for pk in pks}


def alert_watchlists(user) -> list[Watchlist]:
    """The user's watchlists that limit their alerts, for the account page and API."""
    return list(Watchlist.objects.filter(owner=user, alerts_enabled=True).order_by("name"))
