"""The batcher behind batched steps: concurrent callers share one call, each gets its own
answer (a function answer runs in the caller's thread), and a failing call fails each."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from keyreaper.rotate.batch import Batcher


def test_concurrent_callers_share_calls_and_get_their_own_answer() -> None:
    calls: list[list[int]] = []

    def square_all(args: Sequence[int]) -> list[int]:
        calls.append(list(args))
        return [a * a for a in args]

    batcher = Batcher(square_all, max_batch=8, linger=0.05)
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(batcher.submit, range(40)))
    assert got == [a * a for a in range(40)]
    assert sorted(a for c in calls for a in c) == list(range(40))  # each item exactly once
    assert all(len(c) <= 8 for c in calls)
    assert len(calls) < 40 and batcher.batches == len(calls) and batcher.items == 40


def test_function_answers_run_in_the_callers_thread() -> None:
    def deferred(args: Sequence[int]) -> list[object]:
        return [lambda a=a: (a, threading.get_ident()) for a in args]

    batcher = Batcher(deferred, linger=0.05)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(lambda a=a: (batcher.submit(a), threading.get_ident())) for a in range(4)]  # fmt: skip
        for a, f in enumerate(futures):
            (value, ran_in), caller = f.result()
            assert value == a and ran_in == caller


def test_a_failed_call_fails_every_item_of_its_batch_and_the_next_batch_runs() -> None:
    fail = {"on": True}

    def flaky(args: Sequence[int]) -> list[int]:
        if fail["on"]:
            raise TimeoutError("target timed out")
        return list(args)

    batcher = Batcher(flaky, linger=0.05)
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.submit, a) for a in range(4)]
        for f in futures:
            with pytest.raises(TimeoutError):
                f.result()
    fail["on"] = False
    assert batcher.submit(7) == 7


def test_a_short_answer_is_an_error_not_a_shifted_result() -> None:
    batcher = Batcher(lambda args: list(args)[:-1], linger=0.0)
    with pytest.raises(RuntimeError, match="answered 0 of 1"):
        batcher.submit(1)
