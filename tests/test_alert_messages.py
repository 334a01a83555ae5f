"""Alert messages: the plan's format, escaped for HTML parse mode, never longer than Telegram allows."""
from __future__ import annotations

import html
import re

import pytest

from signals.messages import render_alert, render_digest, telegram_length, tier_track_record
from tests.test_alert_support import make_signal

pytestmark = pytest.mark.django_db


def visible(text: str) -> str:
    """What the user reads: tags removed, entities decoded (as Telegram parses it)."""
    return html.unescape(re.sub(r"</?(b|i)>", "", text))


def test_an_alert_has_the_plans_shape_with_measured_history_instead_of_expected_return(settings):
    settings.SITE_URL = ""  # links are relative without a site URL
    signal = make_signal("AIXBTUSDT", tier=1, scanner="mss", kind="gem", score=92.5, score_metric="mss",
                         unified_score=88.6, entry_price=0.41235, rules_matched=["MSS ≥ 90"],
                         reasons=["discovery: FDV $3.2M ≤ 5M → 15", "social: AltRank 38 ≤ 50 → 10"])
    text = render_alert(signal)
    lines = visible(text).splitlines()
    assert lines[0] == "🚨 TIER 1 - MUST BUY"
    assert "Symbol: AIXBTUSDT" in lines
    assert "Signal Type: MSS Discovery · New listing (LONG)" in lines
    assert "Score: 92.5/100 (MSS)" in lines
    assert "Unified score: 88.6/100" in lines
    assert "Entry: 0.41235 (close of the candle to 2025-11-15 08:00 UTC)" in lines
    assert "Rules: MSS ≥ 90" in lines
    assert lines[lines.index("📊 Breakdown:") + 1] == "• discovery: FDV $3.2M ≤ 5M → 15"
    assert "📈 Track record: not enough history yet" in lines
    assert "🔗 Track: /coins/AIXBTUSDT" in lines
    assert lines[-1].startswith("Not financial advice")
    assert "Expected Return" not in text and "Simulated" not in text
    assert tier_track_record(1) is None


@pytest.mark.parametrize("tier, direction, header", [
    (2, "LONG", "⚠️ TIER 2 - STRONG BUY"), (2, "SHORT", "⚠️ TIER 2 - STRONG SELL"), (3, "LONG", "ℹ️ TIER 3 - WATCHLIST")])
def test_the_tier_line_has_the_tiers_emoji_and_label(tier, direction, header):
    assert visible(render_alert(make_signal(tier=tier, direction=direction))).splitlines()[0] == header


def test_a_simulated_signal_says_so_and_links_use_site_url(settings):
    settings.SITE_URL = "https://cryptosatx.example/"
    text = visible(render_alert(make_signal(simulated=True)))
    assert "🧪 Simulated market: data from the CryptoSatX market simulator, not a real exchange." in text
    assert "🔗 Track: https://cryptosatx.example/coins/ARBUSDT" in text


def test_symbols_and_reasons_are_escaped_for_html_parse_mode():
    signal = make_signal("A<B>&CUSDT", reasons=["funding < 0 & price > 3 <script>"],
                         rules_matched=["accumulation ≥ 7 <b>"])
    text = render_alert(signal)
    assert "A&lt;B&gt;&amp;CUSDT" in text and "<script>" not in text
    assert "funding &lt; 0 &amp; price &gt; 3 &lt;script&gt;" in text
    assert set(re.findall(r"</?([a-z]+)", text)) <= {"b", "i"}  # only our own tags
    digest, _ = render_digest([signal] * 6)
    assert "A&lt;B&gt;&amp;CUSDT" in digest and "A<B>" not in digest


def test_a_huge_breakdown_is_cut_and_the_header_kept():
    signal = make_signal(tier=1, reasons=[f"reason {i}: " + "x&<" * 200 for i in range(100)])
    text = render_alert(signal)
    assert telegram_length(text) <= 4096
    assert text.startswith("🚨 <b>TIER 1 - MUST BUY</b>")
    assert re.search(r"• … and \d+ more", text)
    assert "Not financial advice" in text
    assert "&amp;&lt;" in text and not re.search(r"&[a-z]*…", text)  # never cut inside an entity


def test_the_length_counts_utf16_units_like_telegram():
    assert telegram_length("🚨") == 2 and telegram_length("ℹ️") == 2 and telegram_length("abc") == 3


def test_a_digest_lists_each_alert():
    signals = [make_signal(f"C{i}USDT", tier=1 + i % 3) for i in range(6)]
    text, n = render_digest(signals)
    assert n == 6
    listed = [line for line in visible(text).splitlines() if "TIER" in line and "USDT" in line]
    assert len(listed) == 6
    assert "/coins/C0USDT" in text
    for tier in (1, 2, 3):
        assert f"📈 Tier {tier} track record: not enough history yet" in visible(text)
