"""cycles.paused: the collector is off inside, back as it was after the last pause ends."""

from __future__ import annotations

import gc
import threading

import pytest

from auditor.common import cycles


def test_a_pause_restores_the_collector_after_the_last_nested_one_ends():
    assert gc.isenabled()
    with cycles.paused():
        assert not gc.isenabled()
        with cycles.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still on
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with cycles.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_error_inside_still_ends_the_pause():
    with pytest.raises(ValueError), cycles.paused():
        raise ValueError("x")
    assert gc.isenabled()


def test_overlapping_pauses_on_threads_end_with_the_collector_on():
    inside, release = threading.Barrier(4), threading.Event()

    def hold():
        with cycles.paused():
            inside.wait(timeout=10)
            release.wait(timeout=10)

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=10)
    assert not gc.isenabled()
    release.set()
    for thread in threads:
        thread.join(timeout=10)
    assert gc.isenabled()
