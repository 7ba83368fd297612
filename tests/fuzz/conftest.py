"""Hypothesis profiles: `ci` (the default, bounded: the whole folder runs in seconds) and
`long` (`pytest tests/fuzz --hypothesis-profile=long --timeout=0`: thousands of cases per
target, past the suite's per-test time limit)."""

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "derandomize": False,
}
settings.register_profile("ci", max_examples=120, **_COMMON)
settings.register_profile("long", max_examples=5000, **_COMMON)
settings.load_profile("ci")
