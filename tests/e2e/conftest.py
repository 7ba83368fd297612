"""The fake tenant the end-to-end tests run the CLI against: one per test module, reset to a
fresh tenant's grants, licences, faults and counters before each test that uses it."""

from __future__ import annotations

import pytest

from tests.fake_tenant import FakeTenant


@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> FakeTenant:
    with FakeTenant(tmp_path_factory.mktemp("fake-tenant")) as tenant:
        yield tenant


@pytest.fixture(autouse=True)
def _fresh_fake(request):
    """Only where the test uses the fake: starting one for a test that does not would cost a
    server and a certificate authority."""
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()
