"""The stop signal a driving adapter sets when nobody waits for a call's result."""

import threading

from devon_core.stopping import CallStop, current_stop, stopping_on


def test_setting_the_signal_runs_each_registered_callback_once() -> None:
    signal, calls = CallStop(), []
    signal.when_set(lambda: calls.append("a"))
    signal.when_set(lambda: calls.append("b"))
    signal.set()
    signal.set()
    assert (signal.is_set(), calls) == (True, ["a", "b"])


def test_a_callback_registered_after_the_signal_was_set_runs_at_once() -> None:
    signal, calls = CallStop(), []
    signal.set()
    signal.when_set(lambda: calls.append("late"))
    assert calls == ["late"]


def test_an_unregistered_callback_never_runs() -> None:
    signal, calls = CallStop(), []
    forget = signal.when_set(lambda: calls.append("gone"))
    forget()
    signal.set()
    assert calls == []


def test_the_signal_is_current_only_inside_its_block_and_its_own_thread() -> None:
    signal, seen = CallStop(), []
    with stopping_on(signal):
        assert current_stop() is signal
        thread = threading.Thread(target=lambda: seen.append(current_stop()))
        thread.start()
        thread.join()
    assert current_stop() is None
    assert seen == [None]  # a thread started under it must be handed it explicitly
