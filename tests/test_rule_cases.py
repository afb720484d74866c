"""Every rule in ``jaxlearn.RULES`` has its row of test facts (tests/rule_cases.py) and its
NumPy port (tests/book_optimizers.py), so a new rule cannot be skipped by the per-rule tests."""

import inspect

import jaxlearn as jl
from tests.book_optimizers import BOOK
from tests.rule_cases import CASES


def test_every_rule_has_its_row():
    missing = [name for name in jl.RULES if name not in CASES]
    assert not missing, f"rules with no row in tests/rule_cases.py: {missing}"
    stale = [name for name in CASES if name not in jl.RULES]
    assert not stale, f"rows in tests/rule_cases.py for rules not in jaxlearn.RULES: {stale}"


def test_every_rule_has_its_book_port():
    missing = [name for name in jl.RULES if name not in BOOK]
    assert not missing, f"rules with no NumPy port in tests/book_optimizers.py: {missing}"


def test_a_missing_row_is_named():
    try:
        CASES["lion"]
    except KeyError as e:
        assert "rule 'lion' has no row in tests/rule_cases.py" in str(e)
    else:
        raise AssertionError("CASES['lion'] did not raise")


def test_each_row_states_the_rules_own_facts():
    """The row's arguments are the rule's (the values are checked by the per-rule tests), its
    state-dtype option is one of the rule's options, and its state fields are the state's."""
    for name, rule in jl.RULES.items():
        case = CASES[name]
        parameters = inspect.signature(rule).parameters
        assert set(case.custom) <= set(case.defaults) == {
            p.name for p in parameters.values() if p.kind is not p.KEYWORD_ONLY
        }, name
        if case.state_dtype is not None:
            option, slots = case.state_dtype
            assert option in case.options, name
            assert set(slots) <= set(case.state_fields), name
        assert case.huge_gradient in ("steps", "freezes", "finite"), name
        if case.second_moment is not None:
            assert case.second_moment[0] in case.state_fields, name
