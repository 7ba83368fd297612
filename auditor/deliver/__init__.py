"""Delivery: where results go once rendered. Today a SIEM's HTTP event collector (`siem`);
notifications belong here too. Nothing here judges or renders."""

from auditor.deliver.siem import Delivery, deliver

__all__ = ["Delivery", "deliver"]
