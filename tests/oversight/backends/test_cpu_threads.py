"""vLLM's CPU worker computes on every core of a small machine unless the user says otherwise."""

from __future__ import annotations

from oversight.backends.cpu_threads import (
    BIND_ENV,
    RESERVED_ENV,
    SMALL_MACHINE_CORES,
    apply_cpu_threads,
    cpu_thread_env,
)


def test_small_machines_reserve_no_core_for_the_scheduler() -> None:
    for cores in (1, 2, SMALL_MACHINE_CORES):
        assert cpu_thread_env({}, cores) == {RESERVED_ENV: "0"}


def test_large_machines_keep_vllms_reservation() -> None:
    assert cpu_thread_env({}, SMALL_MACHINE_CORES + 1) == {}
    assert cpu_thread_env({}, 64) == {}


def test_the_users_setting_wins() -> None:
    assert cpu_thread_env({RESERVED_ENV: "1"}, 2) == {}
    assert cpu_thread_env({BIND_ENV: "0"}, 2) == {}
    assert cpu_thread_env({BIND_ENV: "nobind"}, 2) == {}
    assert cpu_thread_env({BIND_ENV: "auto"}, 2) == {RESERVED_ENV: "0"}


def test_apply_sets_only_what_is_missing() -> None:
    env = {"OTHER": "x"}
    added = apply_cpu_threads(env)
    assert env == {"OTHER": "x", **added}
    kept = {RESERVED_ENV: "1"}
    assert apply_cpu_threads(kept) == {} and kept == {RESERVED_ENV: "1"}
