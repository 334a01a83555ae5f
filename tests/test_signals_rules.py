"""Alert rules (SCORING.md §7): seeded defaults, every boundary, the highest tier, validation, admin."""
from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError

from signals.models import AlertRule
from signals.rules import DEFAULT_RULES, evaluate
from signals.unified import alert_tier

pytestmark = pytest.mark.django_db


def tiers_for(**values) -> dict[str, int | None]:
    """direction → tier the enabled rules give a coin with these values ({scanner.metric: v})."""
    def value_of(scanner, metric):
        return values.get(f"{scanner}.{metric}")
    rules = AlertRule.objects.filter(enabled=True).order_by("tier", "pk")
    return {d: m.tier for d, m in evaluate(rules, value_of).items()}


def long_tier(**values) -> int | None:
    return tiers_for(**{k.replace("__", "."): v for k, v in values.items()}).get("LONG")


def test_the_migration_seeds_one_rule_per_condition_of_the_spec():
    assert sorted(AlertRule.objects.values_list("name", flat=True)) == sorted(r[0] for r in DEFAULT_RULES)
    assert AlertRule.objects.count() == 13
    assert AlertRule.objects.get(name="RSI < 20 and accumulation ≥ 7").condition == \
        "rsi < 20 and smart_money.accumulation ≥ 7"
    assert AlertRule.objects.get(name="Unified TIER_1").condition == "unified tier TIER_1"


@pytest.mark.parametrize("mss, tier", [(59.9, None), (60, 3), (74.9, 3), (75, 2), (89.9, 2), (90, 1), (100, 1)])
def test_mss_boundaries(mss, tier):
    assert long_tier(mss__mss=mss) == tier


@pytest.mark.parametrize("accumulation, tier", [(4, None), (5, 3), (6, 3), (7, 2), (8, 2), (9, 1), (10, 1)])
def test_accumulation_boundaries(accumulation, tier):
    assert long_tier(smart_money__accumulation=accumulation) == tier


@pytest.mark.parametrize("distribution, tier", [(6, None), (7, 2), (8, 2), (10, 2)])
def test_distribution_is_tier_2_short_from_7(distribution, tier):
    assert tiers_for(**{"smart_money.distribution": distribution}).get("SHORT") == tier


@pytest.mark.parametrize("rsi, accumulation, tier", [
    (30, None, None), (29.9, None, 3), (25, None, 3), (24.9, None, 2), (20, None, 2), (19.9, None, 2),
    (19.9, 6, 2), (20, 7, 2), (19.9, 7, 1), (5, 7, 1),
])
def test_rsi_boundaries_and_the_combined_tier_1_rule(rsi, accumulation, tier):
    values = {"rsi.rsi": rsi}
    if accumulation is not None:
        values["smart_money.accumulation"] = accumulation
    # the RSI scanner's own rules only: accumulation counts only through the combined rule
    rules = AlertRule.objects.filter(scanner="rsi")
    got = evaluate(rules, lambda s, m: values.get(f"{s}.{m}")).get("LONG")
    assert (got.tier if got else None) == tier


@pytest.mark.parametrize("unified_tier, tier", [(None, None), (4, None), (3, 3), (2, 2), (1, 1)])
def test_unified_tiers(unified_tier, tier):
    assert long_tier(unified__tier=unified_tier) == tier


def test_the_highest_tier_wins_and_records_only_its_rules():
    rules = AlertRule.objects.filter(scanner="mss")
    match = evaluate(rules, lambda s, m: 95.0)["LONG"]
    assert (match.tier, match.rules, match.kind) == (1, ["MSS ≥ 90"], "gem")


def test_each_direction_gets_its_own_tier():
    values = {"smart_money.accumulation": 9, "smart_money.distribution": 7}
    assert tiers_for(**values) == {"LONG": 1, "SHORT": 2}


def test_a_missing_value_matches_nothing_and_zero_is_not_missing():
    assert tiers_for() == {}
    assert long_tier(rsi__rsi=0) == 2  # RSI 0 is a real (extreme) reading


def test_a_disabled_rule_is_not_evaluated():
    AlertRule.objects.filter(name="MSS ≥ 90").update(enabled=False)
    assert long_tier(mss__mss=95) == 2


def test_rules_agree_with_the_alert_tier_function_of_the_spec():
    """The rule rows and signals.unified.alert_tier are two encodings of §7: same tiers on a grid."""
    grid = itertools.product([None, 59, 60, 75, 90], [None, 4, 5, 7, 9], [None, 6, 7],
                             [None, 19, 24, 29, 31], [None, "TIER_1", "TIER_2", "TIER_3", "TIER_4"])
    for mss, acc, dist, rsi, unified in grid:
        values = {"mss.mss": mss, "smart_money.accumulation": acc, "smart_money.distribution": dist,
                  "rsi.rsi": rsi, "unified.tier": int(unified[-1]) if unified else None}
        ours = [t for t in tiers_for(**values).values()]
        expected = alert_tier(mss=mss, accumulation=acc, distribution=dist, rsi=rsi, unified_tier=unified).tier
        assert (min(ours) if ours else None) == expected, values


def rule(**fields) -> AlertRule:
    base = {"name": "custom", "tier": 2, "scanner": "smart_money", "metric": "accumulation", "comparison": "gte",
            "threshold": 7, "direction": "LONG", "kind": "accumulating"}
    return AlertRule(**{**base, **fields})


@pytest.mark.parametrize("fields, field", [
    ({"metric": "mss"}, "metric"),
    ({"threshold": 11}, "threshold"),
    ({"comparison": "between"}, "threshold_max"),
    ({"comparison": "between", "threshold_max": 6}, "threshold_max"),
    ({"threshold_max": 9}, "threshold_max"),
    ({"scanner": "unified", "metric": "tier", "comparison": "gte", "threshold": 1}, "threshold"),
    ({"scanner": "unified", "metric": "tier", "comparison": "eq", "threshold": 1.5}, "threshold"),
    ({"also_metric": "accumulation", "also_comparison": "gte", "also_threshold": 7}, "also_metric"),
    ({"also_metric": "rsi.rsi", "also_threshold": 20}, "also_comparison"),
    ({"also_metric": "rsi.rsi", "also_comparison": "lt", "also_threshold": 120}, "also_threshold"),
])
def test_validation_names_the_bad_field(fields, field):
    with pytest.raises(ValidationError) as err:
        rule(**fields).full_clean()
    assert field in err.value.message_dict


def test_a_between_rule_is_half_open():
    r = rule(comparison="between", threshold=7, threshold_max=9)
    r.full_clean()
    r.save()
    rules = [r]
    assert [bool(evaluate(rules, lambda s, m, v=v: v)) for v in (6.9, 7, 8.9, 9)] == [False, True, True, False]


def test_admin_pages_of_the_alert_models_open(admin_client):
    for name in ("alertrule", "recipient", "signal", "alertdelivery", "summarydelivery", "botstate"):
        assert admin_client.get(f"/admin/signals/{name}/").status_code == 200, name
    r = AlertRule.objects.first()
    assert admin_client.get(f"/admin/signals/alertrule/{r.pk}/change/").status_code == 200


def test_admin_refuses_a_bad_rule_with_the_fields_error(admin_client):
    r = AlertRule.objects.get(name="Accumulation 7–8")
    response = admin_client.post(f"/admin/signals/alertrule/{r.pk}/change/", {
        "name": r.name, "tier": 2, "enabled": "on", "direction": "LONG", "kind": "accumulating",
        "scanner": "smart_money", "metric": "mss", "comparison": "gte", "threshold": "7"})
    assert response.status_code == 200
    assert "smart_money offers: accumulation, distribution." in response.content.decode()
    assert AlertRule.objects.get(pk=r.pk).metric == "accumulation"
