"""The /portfolio page's forms. Numbers are checked by the model's validators and `trade_errors`."""
from __future__ import annotations

from django import forms
from django.utils import timezone

from marketdata.models import Coin

from .models import Trade, trade_errors

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local", "step": 60}, format="%Y-%m-%dT%H:%M")


class TradeForm(forms.ModelForm):
    coin = forms.CharField(max_length=32, label="Coin", help_text="Symbol, e.g. BTCUSDT",
                           widget=forms.TextInput(attrs={"list": "coin-symbols", "autocapitalize": "characters"}))

    class Meta:
        model = Trade
        fields = ["coin", "side", "quantity", "entry_price", "entry_fee", "opened_at", "notes"]
        labels = {"entry_price": "Entry price (USDT)", "entry_fee": "Entry fee (USDT)", "opened_at": "Opened at (UTC)"}
        widgets = {"opened_at": DATETIME, "notes": forms.TextInput(),
                   "quantity": forms.NumberInput(attrs={"step": "any", "min": 0}),
                   "entry_price": forms.NumberInput(attrs={"step": "any", "min": 0}),
                   "entry_fee": forms.NumberInput(attrs={"step": "any", "min": 0})}

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"opened_at": timezone.now().replace(second=0, microsecond=0), "entry_fee": 0})
        super().__init__(*args, **kwargs)
        self.fields["opened_at"].required = False

    def clean_coin(self) -> Coin:
        symbol = self.cleaned_data["coin"].strip().upper()
        coin = Coin.objects.filter(symbol=symbol).first()
        if coin is None:
            raise forms.ValidationError(f"Unknown coin: {symbol}. Use a symbol from the ranking, e.g. BTCUSDT.")
        return coin

    def clean(self):
        data = super().clean()
        if not data.get("opened_at") and "opened_at" not in self.errors:
            data["opened_at"] = timezone.now()
        for field, message in trade_errors(data.get("opened_at"), Trade.OPEN, None, None).items():
            self.add_error(field, message)
        return data


class CloseForm(forms.Form):
    exit_price = forms.FloatField(label="Exit price (USDT)", widget=forms.NumberInput(attrs={"step": "any", "min": 0}))
    exit_fee = forms.FloatField(label="Exit fee (USDT)", required=False, initial=0,
                                widget=forms.NumberInput(attrs={"step": "any", "min": 0}))
    closed_at = forms.DateTimeField(label="Closed at (UTC)", required=False, widget=DATETIME,
                                    help_text="Empty: now.")


class FromSignalForm(forms.Form):
    quantity = forms.FloatField(required=False, help_text="Empty: 100 USDT's worth at the signal's entry price.")
