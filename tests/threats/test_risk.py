"""Risk scoring: likelihood x impact on 1-5 scales and configurable bands."""

import pytest
from django.test import override_settings

from apps.core.exceptions import ApplicationError
from apps.threats import risk


@pytest.mark.parametrize(
    ("likelihood", "impact", "score", "band"),
    [(1, 1, 1, "low"), (2, 2, 4, "low"), (1, 5, 5, "medium"), (3, 3, 9, "medium"),
     (2, 5, 10, "high"), (4, 4, 16, "high"), (3, 6 - 1, 15, "high"), (5, 4, 20, "critical"),
     (5, 5, 25, "critical")],
)
def test_score_is_likelihood_times_impact_in_its_band(likelihood, impact, score, band):
    assert risk.risk_score(likelihood, impact) == score
    assert risk.risk_band(score) == band


@pytest.mark.parametrize("value", [0, 6, -1, "0", "6", "", "x", 2.5, "2.5", None, True])
def test_levels_outside_one_to_five_are_refused_naming_the_field(value):
    with pytest.raises(ApplicationError) as caught:
        risk.validate_level(value, field="likelihood")
    assert caught.value.field == "likelihood"
    assert caught.value.status == 400
    assert "Likelihood" in caught.value.message


def test_text_levels_from_forms_are_accepted():
    assert risk.validate_level("4", field="impact") == 4
    assert risk.validate_level(" 2 ", field="impact") == 2


def test_unscored_has_no_band():
    assert risk.risk_band(None) == ""


@override_settings(MLGOV_RISK_BANDS=[(1, "low"), (3, "medium"), (6, "high"), (12, "critical")])
def test_band_thresholds_come_from_the_settings():
    assert risk.risk_band(2) == "low"
    assert risk.risk_band(3) == "medium"
    assert risk.risk_band(6) == "high"
    assert risk.risk_band(12) == "critical"


@override_settings(MLGOV_RISK_BANDS=[(1, "low"), (10, "severe")])
def test_unknown_band_names_in_the_settings_are_refused():
    with pytest.raises(ValueError, match="severe"):
        risk.risk_band(12)


def test_level_choices_use_the_configured_labels():
    assert risk.level_choices("likelihood")[0] == (1, "1 - Rare")
    assert risk.level_choices("impact")[-1] == (5, "5 - Severe")
    assert risk.is_severe("high") and risk.is_severe("critical") and not risk.is_severe("medium")
