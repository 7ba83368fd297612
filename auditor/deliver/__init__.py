"""Delivery: where results go once rendered: a SIEM's HTTP event collector (`siem`) and chat
webhooks (`notify`). Nothing here judges or renders."""

from auditor.deliver.notify import Posted, kind_of
from auditor.deliver.notify import post as notify
from auditor.deliver.siem import Delivery, deliver

__all__ = ["Delivery", "Posted", "deliver", "kind_of", "notify"]
