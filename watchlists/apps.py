from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "watchlists"

    def ready(self) -> None:
        # signals writes the alert deliveries but cannot import this app (imports run signals <-
        # watchlists): it gets the reader of each user's watchlist coins here.
        from django.db.models.signals import post_delete

        from signals.outbox import set_coin_limits_reader

        from .alerts import coin_limits
        from .models import Watchlist
        from .schedules import delete_schedule

        set_coin_limits_reader(coin_limits)
        # Also when the owner is deleted (a cascade): the watchlist's schedule goes with it.
        post_delete.connect(lambda sender, instance, **kw: delete_schedule(instance.pk), sender=Watchlist,
                            weak=False, dispatch_uid="watchlist-schedule-delete")
