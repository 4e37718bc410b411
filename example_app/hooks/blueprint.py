"""The one ``OktaHooks`` blueprint every handler of the service is mounted on."""

from __future__ import annotations

from flask_okta_hooks import OktaHooks

#: POST /okta/hooks/<hook type>, and GET too for /okta/hooks/events (Okta's verification);
#: configured through ``OKTA_HOOKS_*`` keys.
hooks = OktaHooks("okta_hooks", __name__, url_prefix="/okta/hooks")
