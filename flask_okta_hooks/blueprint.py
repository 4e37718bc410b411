"""The ``OktaHooks`` blueprint: one route per registered hook handler, and the dispatch.

A call goes through fixed steps, in this order: method, authentication (on the raw
header, before the body is read), content headers, bounded read, strict JSON parse,
envelope and ``eventType`` check, handler, Okta's rules, serialisation. A GET, which only
event hooks answer (Okta's verification), is answered right after authentication. The
handler and the checks of its result run under the call's deadline (:mod:`.runner`); when
the handler fails, the endpoint's failure policy chooses the answer (:mod:`.failure`).
Every status code is chosen here, in :meth:`OktaHooks._serve` and :meth:`OktaHooks._respond`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar, overload

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.sansio.app import App
from flask.sansio.scaffold import setupmethod

from . import redaction
from .auth import authenticate
from .body import check_content_headers, parse_json, read_body
from .config import (
    DEFAULT_PREFIX,
    EXTENSION_KEY,
    Settings,
    SettingsCache,
    apply_defaults,
    declare_prefix,
    require_header_secret,
)
from .deadline import Clock
from .endpoint import AsyncHandler, Endpoint, Handler, OnFailure, Register, SyncHandler
from .errors import HookRequestError, MethodNotAllowed
from .events.router import EventDecorator, EventRouter
from .events.runtime import EventsRuntime
from .failure import FAILURE_ENVIRON_KEY, FailurePolicy, Outcome
from .hook_types import (
    EVENTS,
    PASSWORD_IMPORT,
    REGISTRATION,
    SAML,
    TELEPHONY,
    TOKEN,
    USER_IMPORT,
    HookType,
)
from .hooks.password_import import PasswordImportHookRequest, PasswordImportHookResponse
from .hooks.registration import RegistrationHookRequest, RegistrationHookResponse
from .hooks.saml import SamlHookRequest, SamlHookResponse
from .hooks.telephony import TelephonyHookRequest, TelephonyHookResponse
from .hooks.token import TokenHookRequest, TokenHookResponse
from .hooks.user_import import UserImportHookRequest, UserImportHookResponse
from .logs import log_call
from .oauth import BearerVerifier
from .rendering import error_response, render
from .request import HookRequest
from .response import HookResponse
from .rules import waivable
from .runner import HandlerRunner
from .signals import send_answered, send_received
from .state import PrefixState

_ENDPOINT_CHARS = re.compile(r"[^A-Za-z0-9_-]+")

Req = TypeVar("Req", bound=HookRequest)
Resp = TypeVar("Resp", bound=HookResponse)


class _BoundDecorator(Generic[Req, Resp]):
    def __init__(self, blueprint: OktaHooks, hook_type: HookType) -> None:
        self._blueprint = blueprint
        self._hook_type = hook_type

    @overload
    def __call__(self, handler: SyncHandler[Req, Resp], /) -> SyncHandler[Req, Resp]: ...

    @overload
    def __call__(self, handler: AsyncHandler[Req, Resp], /) -> AsyncHandler[Req, Resp]: ...

    @overload
    def __call__(
        self,
        path: str | None = None,
        /,
        *,
        on_failure: str | Callable[[Req], Resp | Mapping[str, Any] | None] | None = None,
        waive: str | Iterable[str] = (),
    ) -> Register[Req, Resp]: ...

    def __call__(
        self, arg: Any = None, /, *, on_failure: OnFailure = None, waive: str | Iterable[str] = ()
    ) -> Any:
        if callable(arg):
            self._blueprint.mount(self._hook_type, arg)
            return arg

        def register(handler: Any) -> Any:
            self._blueprint.mount(self._hook_type, handler, arg, on_failure=on_failure, waive=waive)
            return handler

        return register


class HookDecorator(Generic[Req, Resp]):
    """The decorator of one hook type, typed with its request and response classes.

    ``@hooks.token`` mounts the handler at the type's default path; ``@hooks.token("/x")``
    at ``/x`` below the blueprint's prefix (for a second hook of the same type), and
    ``@hooks.token(on_failure="deny")`` with a failure policy other than ``"safe"``, and
    ``@hooks.token(waive=["claim_name"])`` with precautions waived for the endpoint.
    """

    def __init__(self, hook_type: HookType) -> None:
        self.hook_type = hook_type

    def __get__(
        self, blueprint: OktaHooks, owner: type | None = None
    ) -> _BoundDecorator[Req, Resp]:
        return _BoundDecorator(blueprint, self.hook_type)


class OktaHooks(Blueprint):
    """A Flask blueprint that serves Okta hooks.

    Example::

        hooks = OktaHooks()

        @hooks.token
        def enrich(call: TokenHookRequest) -> TokenHookResponse | None:
            return call.respond().add_access_claim("tier", "gold")

        @hooks.event("user.lifecycle.deactivate")
        def offboard(event: LogEvent) -> None:
            ...

        app.config["OKTA_HOOKS_SECRETS"] = ["<the value Okta sends>"]
        app.register_blueprint(hooks)  # POST /okta/hooks/token; GET, POST /okta/hooks/events

    Configuration is read from ``app.config`` keys starting with ``config_prefix``; give a
    second blueprint its own prefix to configure it separately. ``clock`` (monotonic
    seconds, :func:`time.perf_counter` by default) times deadlines and latencies; tests
    may pass their own.
    """

    token = HookDecorator[TokenHookRequest, TokenHookResponse](TOKEN)
    saml = HookDecorator[SamlHookRequest, SamlHookResponse](SAML)
    registration = HookDecorator[RegistrationHookRequest, RegistrationHookResponse](REGISTRATION)
    password_import = HookDecorator[PasswordImportHookRequest, PasswordImportHookResponse](
        PASSWORD_IMPORT
    )
    user_import = HookDecorator[UserImportHookRequest, UserImportHookResponse](USER_IMPORT)
    telephony = HookDecorator[TelephonyHookRequest, TelephonyHookResponse](TELEPHONY)
    event = EventDecorator()

    def __init__(
        self,
        name: str = "okta_hooks",
        import_name: str = __name__,
        *,
        url_prefix: str | None = "/okta/hooks",
        config_prefix: str = DEFAULT_PREFIX,
        clock: Clock = time.perf_counter,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, import_name, url_prefix=url_prefix, **kwargs)
        self.config_prefix = config_prefix
        declare_prefix(config_prefix)
        self.clock = clock
        self.endpoints: dict[str, Endpoint] = {}
        """The mounted handlers by path below the prefix."""

    @setupmethod
    def mount(
        self,
        hook_type: HookType,
        handler: Handler,
        path: str | None = None,
        *,
        on_failure: OnFailure = None,
        waive: str | Iterable[str] = (),
    ) -> None:
        """Serve ``hook_type`` with ``handler`` at ``path`` (default: the type's own path).

        ``on_failure`` names the failure policy or gives a callable ``(call) -> response |
        None`` (see :mod:`flask_okta_hooks.failure`); a name the hook type does not offer
        is a :class:`ValueError` here, not at the first failure. ``waive`` names
        precautions (:mod:`flask_okta_hooks.rules`) waived for every answer of this
        endpoint; an id that is no precaution is a :class:`ValueError` here. The
        decorators call this; call it directly to mount handlers from a table::

            hooks.mount(TOKEN, gate, "/token/gate", on_failure="deny")
        """
        path = hook_type.default_path if path is None else path
        if not path.startswith("/"):
            raise ValueError(f"hook paths start with '/': {path!r}")
        if path in self.endpoints:
            taken = self.endpoints[path].hook_type.slug
            raise ValueError(
                f"{path!r} already serves a {taken} hook; give this handler its own path, "
                f"e.g. @hooks.{hook_type.slug.replace('-', '_')}('{path}/partners')"
            )
        name = _ENDPOINT_CHARS.sub("_", path.strip("/")) or hook_type.slug
        policy = FailurePolicy.resolve(hook_type, on_failure)
        waived = waivable([waive] if isinstance(waive, str) else waive)
        endpoint = Endpoint(hook_type, path, name, handler, policy, waived)
        self.endpoints[path] = endpoint
        self.record(lambda state: self._add_route(state, endpoint))

    def register(self, app: App, options: dict[str, Any]) -> None:
        """Apply and validate the configuration, make the prefix's state (worker pool,
        OAuth verifier, event intake), then register the routes. Also puts the
        :class:`~.redaction.RedactingFilter` on the extension's logger.
        """
        settings = apply_defaults(app.config, self.config_prefix)
        header_only = [path for path, e in self.endpoints.items() if not e.hook_type.bearer_auth]
        require_header_secret(settings, self.config_prefix, header_only)
        states: dict[str, PrefixState] = app.extensions.setdefault(EXTENSION_KEY, {})
        cache = SettingsCache(self.config_prefix, settings, app.config)
        state = states.get(self.config_prefix)
        if state is None:
            runner = HandlerRunner(settings.workers, self.clock, self.config_prefix + "WORKERS")
            state = PrefixState(cache, runner, BearerVerifier())
            states[self.config_prefix] = state
        state.settings = cache
        has_events = any(e.hook_type is EVENTS for e in self.endpoints.values())
        if has_events and state.events is None:
            state.events = EventsRuntime(app, self.config_prefix, settings)  # type: ignore[arg-type]
        redaction.install()
        super().register(app, options)

    def drain(self, app: App, timeout: float | None = None) -> bool:
        """Wait until the events ``app`` took on have been handled (tests, shutdown).

        Returns ``False`` when ``timeout`` seconds passed first. Example (gunicorn)::

            def worker_exit(server, worker):
                hooks.drain(app, timeout=10)
        """
        state: PrefixState | None = app.extensions.get(EXTENSION_KEY, {}).get(self.config_prefix)
        return True if state is None or state.events is None else state.events.drain(timeout)

    def _add_route(self, state: BlueprintSetupState, endpoint: Endpoint) -> None:
        # The rule matches every method so that wrong methods reach the view and get the
        # JSON 405 of this extension; a method-limited rule would fail in the router first.
        rule = endpoint.path
        if state.url_prefix:
            rule = state.url_prefix.rstrip("/") + endpoint.path
        name = f"{state.name_prefix}.{state.name}.{endpoint.name}".lstrip(".")
        app = state.app
        app.url_map.add(app.url_rule_class(rule, endpoint=name, subdomain=state.subdomain))
        if isinstance(endpoint.handler, EventRouter):
            events = app.extensions[EXTENSION_KEY][self.config_prefix].events
            events.routers[rule] = endpoint.handler
            events.routers.setdefault(endpoint.path, endpoint.handler)

        def view() -> Response:
            return self._serve(endpoint)

        app.view_functions[name] = view

    # --- dispatch ----------------------------------------------------------------------------

    def _serve(self, endpoint: Endpoint) -> Response:
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        prefix_state: PrefixState = app.extensions[EXTENSION_KEY][self.config_prefix]
        settings: Settings = prefix_state.settings.get(app.config)
        environ = request.environ
        started = self.clock()
        if prefix_state.events is not None:
            prefix_state.events.serve_here()
        call: HookRequest | None = None
        try:
            method = environ["REQUEST_METHOD"]
            if method not in endpoint.hook_type.methods:
                raise MethodNotAllowed(endpoint.hook_type.methods)
            authenticate(
                environ,
                settings,
                prefix_state.verifier,
                bearer=endpoint.hook_type.bearer_auth,
            )
            if method == "GET":  # Okta's only GET: the event hook verification
                outcome = Outcome(
                    orjson.dumps(endpoint.hook_type.request_class.answer_get(environ))
                )
            else:
                check_content_headers(environ)
                payload = parse_json(read_body(environ, settings.max_body), settings)
                call = endpoint.hook_type.request_class.from_payload(payload)
                call.set_deadline(started + settings.deadline, self.clock)
                send_received(app, endpoint.hook_type.slug, call.event_id)
                outcome = prefix_state.runner.run(app, endpoint, call, settings, render)
        except HookRequestError as exc:  # includes a section the handler read being malformed
            outcome = Outcome(None, refusal=exc)
        response = self._respond(app, outcome)
        if outcome.failure is not None:
            environ[FAILURE_ENVIRON_KEY] = outcome.failure
        latency = self.clock() - started
        event_id = None if call is None else call.event_id
        slug = endpoint.hook_type.slug
        status = response.status_code
        log_call(slug, event_id, status, latency, outcome.failure, outcome.refusal)
        send_answered(app, slug, event_id, status, latency, outcome.failure, outcome.refusal)
        return response

    @staticmethod
    def _respond(app: Flask, outcome: Outcome) -> Response:
        if outcome.refusal is not None:
            return error_response(app, outcome.refusal)
        if outcome.body is None:
            return app.response_class(status=204)
        return app.response_class(outcome.body, status=200, mimetype="application/json")
