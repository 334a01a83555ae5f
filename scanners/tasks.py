"""django-q2 task entry points: thin, they re-read settings and call the engine."""
from django.conf import settings

from .engine import run_scan


def scan_task(scanner: str) -> dict:
    if not settings.AUTO_SCAN_ENABLED:
        return {"skipped": "AUTO_SCAN_ENABLED is false"}
    run = run_scan(scanner)
    return {"run_id": run.pk, "status": run.status, "scored": run.scored, "universe": run.universe_size}
