"""The hook endpoints an app serves, as the router sees them.

Tools (the test client, ``flask okta-hooks routes``, the OpenAPI document) need the URL
of every mounted handler *as registered*: a blueprint may be registered under another
name or prefix, nested in another blueprint, or registered twice. Reading Flask's own URL
map gives exactly the URLs requests will reach.

Example::

    for route in hook_routes(app):
        print(route.hook_type.slug, route.rule)   # token /okta/hooks/token
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from .blueprint import OktaHooks
from .config import EXTENSION_KEY, Settings
from .hook_types import HOOK_TYPES, HOOK_TYPES_BY_SLUG, HookType


@dataclass(frozen=True)
class HookRoute:
    """One hook endpoint of an app: its hook type and the URL rule that reaches it."""

    hook_type: HookType
    rule: str
    """The URL path rule, e.g. ``/okta/hooks/token``."""
    endpoint: str
    """Flask's endpoint name, for ``url_for``."""
    blueprint: OktaHooks
    blueprint_name: str
    """The name the blueprint was registered under (dotted when nested)."""
    mounted_path: str
    """The path the handler was mounted at, below the blueprint's prefix."""
    subdomain: str | None = None

    @property
    def config_prefix(self) -> str:
        """The prefix of the ``app.config`` keys that configure this endpoint."""
        return self.blueprint.config_prefix

    def settings(self, app: Flask) -> Settings:
        """The validated settings this endpoint runs with, read from ``app.config`` now."""
        settings: Settings = app.extensions[EXTENSION_KEY][self.config_prefix].settings.get(
            app.config
        )
        return settings

    def auth(self, app: Flask) -> str:
        """How calls to this endpoint are authenticated now: ``header``, ``oauth`` or ``none``.

        Hook types Okta cannot call with OAuth 2.0 (event hooks) take the header secret in
        OAuth mode too.
        """
        auth = self.settings(app).auth
        return "header" if auth == "oauth" and not self.hook_type.bearer_auth else auth


def hook_routes(app: Flask) -> list[HookRoute]:
    """Every hook endpoint ``app`` serves, sorted by URL rule.

    Raises :class:`LookupError` naming the endpoint if the URL map lacks a route that a
    registered :class:`~.blueprint.OktaHooks` mounted (the app was changed by hand).
    """
    routes: list[HookRoute] = []
    for name, blueprint in app.blueprints.items():
        if not isinstance(blueprint, OktaHooks):
            continue
        for mounted in blueprint.endpoints.values():
            endpoint = f"{name}.{mounted.name}"
            try:
                rules = list(app.url_map.iter_rules(endpoint))
            except KeyError:
                raise LookupError(f"no URL rule serves the endpoint {endpoint!r}") from None
            routes += [
                HookRoute(
                    hook_type=mounted.hook_type,
                    rule=rule.rule,
                    endpoint=endpoint,
                    blueprint=blueprint,
                    blueprint_name=name,
                    mounted_path=mounted.path,
                    subdomain=rule.subdomain or None,
                )
                for rule in rules
            ]
    return sorted(routes, key=lambda route: (route.rule, route.endpoint))


def hook_type_named(name: str | HookType) -> HookType:
    """The hook type of a slug (``"password-import"``, also ``"password_import"``).

    Raises :class:`LookupError` listing the slugs known.
    """
    if isinstance(name, HookType):
        return name
    found = HOOK_TYPES_BY_SLUG.get(name.replace("_", "-"))
    if found is None:
        known = ", ".join(hook_type.slug for hook_type in HOOK_TYPES)
        raise LookupError(f"no hook type {name!r}; the hook types are {known}")
    return found


def route_for(app: Flask, hook: str | HookType, path: str | None = None) -> HookRoute:
    """The endpoint of ``app`` serving ``hook``, or the one at ``path``: its URL path
    (``/okta/hooks/token/partners``) or the path it was mounted at below the blueprint's
    prefix (``/token/partners``, as in ``@hooks.token("/token/partners")``).

    Where several endpoints serve ``hook``, the one at the hook type's default path
    (``@hooks.token`` rather than ``@hooks.token("/token/partners")``) is chosen. Raises
    :class:`LookupError` saying what the app serves when there is no such endpoint, or
    when the choice is ambiguous.
    """
    hook_type = hook_type_named(hook)
    routes = hook_routes(app)
    candidates = [route for route in routes if route.hook_type is hook_type]
    if path is not None:
        at_url = [route for route in candidates if route.rule == path]
        candidates = at_url or [route for route in candidates if route.mounted_path == path]
    if len(candidates) > 1 and path is None:
        defaults = [r for r in candidates if r.mounted_path == hook_type.default_path]
        candidates = defaults or candidates
    if len(candidates) == 1:
        return candidates[0]
    served = ", ".join(f"{r.hook_type.slug} at {r.rule}" for r in routes) or "no hook endpoint"
    if not candidates:
        where = f" at {path}" if path is not None else ""
        raise LookupError(f"the app serves no {hook_type.slug} hook{where}; it serves {served}")
    rules = ", ".join(route.rule for route in candidates)
    raise LookupError(f"several {hook_type.slug} endpoints ({rules}): name one by its path")
