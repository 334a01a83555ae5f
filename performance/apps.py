from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "performance"

    def ready(self) -> None:
        # Alerts and the ranking show each tier's measured record; signals cannot import this app
        # (imports run signals <- performance), so the reader is handed over here.
        from signals.messages import set_record_reader
        from signals.summary import set_day_record_reader

        from .queries import day_record, tier_record
        set_record_reader(tier_record)
        set_day_record_reader(day_record)
