"""What an app keeps per configuration prefix: one :class:`PrefixState`, made when the
blueprint is registered, under ``app.extensions["okta_hooks"][prefix]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import SettingsCache
from .events.runtime import EventsRuntime
from .oauth import BearerVerifier
from .runner import HandlerRunner


@dataclass
class PrefixState:
    """The settings, handler runner, OAuth verifier and event side of one prefix."""

    settings: SettingsCache
    runner: HandlerRunner
    verifier: BearerVerifier
    events: EventsRuntime | None = None
    """Made when the first blueprint with event hooks of this prefix is registered."""
