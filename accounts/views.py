"""Account pages: sign-up (when SIGNUP_ENABLED), the account page (API token, Telegram alerts).
Login and logout are Django's own views (accounts/urls.py)."""
from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from watchlists.alerts import alert_watchlists

from .alerts import AlertSettingsSerializer, settings_of


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "signup_enabled": settings.SIGNUP_ENABLED}


def signup(request):
    if not settings.SIGNUP_ENABLED:
        return render(request, "accounts/signup_closed.html", status=404)
    if request.user.is_authenticated:
        return redirect("account")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}. Create a watchlist, or set your Telegram chat "
                                  "below to get alerts.")
        return redirect("account")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def account(request):
    """GET shows the token and the alert settings; POST saves the alert settings (the same
    serializer as PUT /api/account/alerts, so the page and the API accept the same values)."""
    recipient = settings_of(request.user)
    errors, form_values = {}, None
    if request.method == "POST":
        serializer = AlertSettingsSerializer(data=request.POST, context={"user": request.user})
        if serializer.is_valid():
            serializer.save()
            messages.success(request, "Alert settings saved.")
            return redirect("account")
        errors, form_values = serializer.errors, request.POST
    shown = AlertSettingsSerializer(recipient, context={"user": request.user}).data
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/account.html", {
        "alerts": shown, "recipient": recipient, "errors": errors,
        "values": form_values or {**shown, "chat_id": shown["chat_id"] or ""},
        "token": token, "watchlists": alert_watchlists(request.user),
        "tier_3_instant": settings.TELEGRAM_TIER_3_ENABLED,
    }, status=400 if errors else 200)


@login_required
@require_POST
def regenerate_token(request):
    """A new API token; the old one stops working at once."""
    with transaction.atomic():
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
    messages.success(request, "New API token created; the previous one no longer works.")
    return redirect("account")
