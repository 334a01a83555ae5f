"""/simulator/telegram: what the simulator's Telegram received, as a chat would show it. Only when
Telegram is the simulator; a real chat is read in Telegram itself."""
from __future__ import annotations

import httpx
from django.conf import settings
from django.shortcuts import render


def telegram_inbox(request):
    simulated = settings.TELEGRAM_API_URL.rstrip("/") == f"{settings.SIMULATOR_URL.rstrip('/')}/telegram"
    messages, error = [], ""
    if simulated:
        try:
            response = httpx.get(f"{settings.SIMULATOR_URL.rstrip('/')}/sim/telegram/messages", timeout=5)
            response.raise_for_status()
            messages = list(reversed(response.json()))[:200]
        except (httpx.HTTPError, ValueError) as exc:
            error = f"The simulator did not answer ({type(exc).__name__}); is it running (make run)?"
    return render(request, "telegram_inbox.html", {"simulated": simulated, "messages": messages, "error": error})
