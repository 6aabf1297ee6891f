from harness.usage import budget_table, within_budgets

BUDGETS = {"kafka": 768, "api": 320}


def test_peaks_within_budgets_hold() -> None:
    v = within_budgets({"kafka": 400.0, "api": 100.0}, BUDGETS, ["kafka", "api"])
    assert v.valid and v.counts == {"services": 2, "over budget": 0, "unsampled": 0}


def test_a_peak_over_budget_is_named_with_its_figures() -> None:
    v = within_budgets({"kafka": 800.4, "api": 100.0}, BUDGETS, ["kafka", "api"])
    assert not v.valid
    assert v.mismatched == ["kafka: peak 800 MiB > budget 768 MiB"]


def test_a_service_never_sampled_fails_and_nothing_sampled_proves_nothing() -> None:
    assert within_budgets({"kafka": 1.0}, BUDGETS, ["kafka", "api"]).mismatched == ["api: never sampled"]
    assert not within_budgets({}, BUDGETS, []).valid


def test_the_table_shows_use_as_a_share_of_the_budget() -> None:
    assert budget_table({"api": 160.0}, BUDGETS).splitlines()[1].split() == ["api", "160", "320", "50%"]
