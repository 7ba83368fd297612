"""SIEM delivery decisions, one HTTP answer at a time (mocked with `responses`)."""

from __future__ import annotations

import json

import requests
import responses
import urllib3

from auditor.collect.http import HttpClient, RetryPolicy
from auditor.deliver import siem

URL = "https://collector.example.com/services/collector/event"


def events(count: int) -> list[dict]:
    return [
        {"time": 1_700_000_000_000, "cloud": {"account": {"uid": "t"}}, "metadata": {"uid": str(i)}}
        for i in range(count)
    ]


def client() -> HttpClient:
    return HttpClient(RetryPolicy(max_attempts=4, deadline=120), sleep=lambda s: None)


def uids(body: bytes) -> list[str]:
    return [json.loads(line)["event"]["metadata"]["uid"] for line in body.splitlines()]


@responses.activate
def test_an_event_too_large_alone_is_kept_and_the_others_go_on():
    stored: list[str] = []

    def answer(request):
        batch = uids(request.body)
        if "7" in batch:  # the collector refuses every batch holding event 7
            return 413, {}, '{"text":"Content too large","code":27}'
        stored.extend(batch)
        return 200, {}, '{"text":"Success","code":0}'

    responses.add_callback(responses.POST, URL, callback=answer)
    sent, kept, error = siem.send(events(12), URL, "token-0123456789", client())
    assert sorted(stored, key=int) == [str(i) for i in range(12) if i != 7]
    assert [e["metadata"]["uid"] for e in kept] == ["7"]
    assert sent == 11 and error.startswith("HTTP 413")


@responses.activate
def test_a_connection_never_made_is_tried_again_and_then_kept():
    refused = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    failure = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, refused))
    responses.add(responses.POST, URL, body=failure)
    sent, kept, error = siem.send(events(3), URL, "token-0123456789", client())
    assert (sent, len(kept)) == (0, 3)
    assert len(responses.calls) == 4  # every attempt: nothing reached the collector
    assert "gave up after 4 attempts" in error


@responses.activate
def test_a_reset_after_sending_is_not_sent_again():
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104))
    responses.add(responses.POST, URL, body=requests.ConnectionError(reset))
    sent, kept, error = siem.send(events(3), URL, "token-0123456789", client())
    assert (sent, len(kept), len(responses.calls)) == (0, 3, 1)
    assert "not sent again" in error


@responses.activate
def test_after_a_failure_the_rest_is_kept_untried():
    responses.add(responses.POST, URL, status=401, json={"text": "Invalid token", "code": 4})
    sent, kept, error = siem.send(events(1200), URL, "token-0123456789", client())
    assert (sent, len(kept), len(responses.calls)) == (0, 1200, 1)
    assert error == "HTTP 401 Invalid token (HEC code 4)"


@responses.activate
def test_a_redirect_to_another_host_is_not_followed():
    responses.add(
        responses.POST, URL, status=308, headers={"Location": "https://elsewhere.example/x"}
    )
    sent, kept, error = siem.send(events(2), URL, "token-0123456789", client())
    assert (sent, len(kept)) == (0, 2) and "another host" in error
    assert len(responses.calls) == 1


@responses.activate
def test_hec_json_code_decides_a_200():
    responses.add(responses.POST, URL, status=200, json={"text": "Success", "code": 0})
    assert siem.send(events(2), URL, "token-0123456789", client())[:2] == (2, [])
    responses.replace(responses.POST, URL, status=200, json={"text": "No data", "code": 5})
    assert siem.send(events(2), URL, "token-0123456789", client())[0] == 0
