"""The offline policy calls and the foreign logger, through the generated Python bindings."""

import pytest

import keyway


def context(**overrides):
    fields = dict(
        kind=keyway.CodeKind.RESIDENT,
        six_digit_codes=False,
        custom_codes=True,
        affiliated_numbers=["1440"],
        access_point=keyway.AccessPoint.UNIT_DOOR,
        enter_key=True,
        constraints=[],
        existing_codes=[],
        length=None,
    )
    fields.update(overrides)
    return keyway.PolicyContext(**fields)


def test_a_refused_code_lists_every_rule():
    with pytest.raises(keyway.KeywayError.PolicyViolation) as caught:
        keyway.check_code("1234", context())
    rules = [v.rule for v in caught.value.rejection.violations]
    assert rules == [keyway.Rule.SEQUENTIAL, keyway.Rule.COMMON_PIN]
    assert all(v.message for v in caught.value.rejection.violations)


def test_an_acceptable_code_passes():
    assert keyway.check_code("4817", context()) is None


def test_bad_input_is_a_typed_error_not_a_crash():
    with pytest.raises(keyway.KeywayError.InvalidFormat):
        keyway.check_code("12a4", context())
    with pytest.raises(keyway.KeywayError.InvalidArgument):
        keyway.check_code("4817", context(existing_codes=["x"]))


def test_generated_codes_pass_the_check():
    ctx = context(six_digit_codes=True, length=6)
    codes = keyway.generate_codes(ctx, 20)
    assert len(set(codes)) == 20
    for code in codes:
        assert len(code) == 6
        keyway.check_code(code, ctx)


def test_exhaustion_is_typed():
    ctx = context(constraints=[keyway.ModelConstraint.CANNOT_CONTAIN0789])
    with pytest.raises(keyway.KeywayError.Exhausted):
        keyway.generate_codes(ctx, 5000)


def test_log_records_reach_the_app():
    records = []

    class Collect(keyway.Logger):
        def log(self, level, target, message):
            records.append((level, target, message))

    keyway.set_logger(Collect(), keyway.LogLevel.INFO)
    assert any(level == keyway.LogLevel.INFO and target == "keyway" for level, target, _ in records)
