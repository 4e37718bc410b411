"""Tables built from the code at each build, so that the documentation cannot drift.

``okta-hooks-settings``: every key of :data:`flask_okta_hooks.config.SETTINGS`, its
default and meaning. ``okta-hooks-rules``: every rule of
:data:`flask_okta_hooks.rules.RULES`, its source and what it says.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from flask_okta_hooks.config import SETTINGS
from flask_okta_hooks.rules import RULES


def default_text(default: Any) -> str:
    """A default as a user writes it in ``app.config``: Python with double quotes."""
    return repr(default).replace("'", '"')


def setting_rows(prefix: str = "OKTA_HOOKS_") -> list[tuple[str, str, str]]:
    """One ``(key, default, meaning)`` per setting, in the order of ``SETTINGS``."""
    return [(prefix + s.name, default_text(s.default), s.doc) for s in SETTINGS]


def rule_rows() -> list[tuple[str, str, str]]:
    """One ``(id, source, description)`` per rule, in the order of ``RULES``."""
    return [(r.id, r.source.value, r.description) for r in RULES.values()]


def _entry(text: str, literal: bool) -> nodes.entry:
    inner: nodes.Node = nodes.literal(text, text) if literal else nodes.Text(text)
    return nodes.entry("", nodes.paragraph("", "", inner))


class Table(SphinxDirective):
    """A three-column table: the first two columns as code, the third as text."""

    header: tuple[str, str, str]
    widths: tuple[int, int, int]

    def rows(self) -> list[tuple[str, str, str]]:
        raise NotImplementedError

    def run(self) -> list[nodes.Node]:
        group = nodes.tgroup(cols=3)
        group += [nodes.colspec(colwidth=width) for width in self.widths]
        head = nodes.row("", *(_entry(title, literal=False) for title in self.header))
        body = [
            nodes.row("", _entry(a, True), _entry(b, True), _entry(c, False))
            for a, b, c in self.rows()
        ]
        group += nodes.thead("", head)
        group += nodes.tbody("", *body)
        return [nodes.table("", group)]


class SettingsTable(Table):
    header = ("Key", "Default", "Meaning")
    widths = (3, 1, 6)

    def rows(self) -> list[tuple[str, str, str]]:
        return setting_rows()


class RulesTable(Table):
    header = ("Rule", "Source", "What it says")
    widths = (2, 1, 6)

    def rows(self) -> list[tuple[str, str, str]]:
        return rule_rows()


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("okta-hooks-settings", SettingsTable)
    app.add_directive("okta-hooks-rules", RulesTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
