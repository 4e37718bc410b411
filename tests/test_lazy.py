"""Lazily typed sections: computed once per request object, never waiting on another."""

from __future__ import annotations

import threading

from flask_okta_hooks import TokenHookRequest
from flask_okta_hooks.lazy import lazy_property

from .conftest import sample


class Call:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.loads = 0
        self.entered = threading.Event()

    @lazy_property
    def section(self) -> int:
        """A section."""
        self.loads += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        return 42


def test_a_value_is_computed_once_and_then_read_from_the_instance() -> None:
    call = Call()

    assert (call.section, call.section) == (42, 42)
    assert call.loads == 1
    assert vars(call)["section"] == 42
    assert isinstance(vars(Call)["section"], lazy_property)
    assert Call.section.__doc__ == "A section."  # type: ignore[attr-defined]


def test_a_slow_read_on_one_call_does_not_hold_up_another_call() -> None:
    gate = threading.Event()
    held = Call(gate)
    slow = threading.Thread(target=lambda: held.section)
    slow.start()
    try:
        assert held.entered.wait(2)
        quick = threading.Thread(target=lambda: Call().section)
        quick.start()
        quick.join(timeout=2)
        assert not quick.is_alive()  # a lock shared by every instance would keep it waiting
    finally:
        gate.set()
        slow.join()


def test_the_typed_sections_of_a_request_are_lazy() -> None:
    call = TokenHookRequest.from_payload(sample("token.request.json"))

    assert "user" not in vars(call)
    assert call.user is call.user
    assert "user" in vars(call)
