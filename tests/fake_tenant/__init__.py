"""The fake Microsoft cloud the end-to-end tests run the real CLI against."""

from tests.fake_tenant.server import ALL_GRANTS, FakeTenant, Fault

__all__ = ["ALL_GRANTS", "FakeTenant", "Fault"]
