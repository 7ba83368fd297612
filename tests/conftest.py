"""Hypothesis profiles for every property and fuzz test.

`ci` (the default): 120 cases per target, derandomized — each run draws the same cases (for a
given Hypothesis version), so the suite is a regression guard and never turns red on a case no
earlier run tried. `long` (`pytest tests/fuzz --hypothesis-profile=long --timeout=0`): 5,000
random cases per target, past the suite's per-test time limit; this is the run that explores,
and each defect it finds becomes a named regression test (see tests/unit/test_inputs.py)."""

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=120, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=5000, derandomize=False, **_COMMON)
settings.load_profile("ci")
