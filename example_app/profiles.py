"""Okta profile rules of the company: normal forms, required attributes, their checks.

Attribute names are Okta's (``firstName``, ``employeeNumber`` ...); every attribute set
here exists in Okta's default user schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .directory import Account

_SPACES = re.compile(r"\s+")
_EMPLOYEE_NUMBER = re.compile(r"[0-9]{1,10}")

#: What the form calls each attribute, for the messages next to its field.
LABELS = {
    "employeeNumber": "Employee number",
    "department": "Department",
    "firstName": "First name",
    "lastName": "Last name",
    "email": "Email",
    "mobilePhone": "Mobile phone",
    "title": "Job title",
}
MAX_TEXT = 100


def clean_text(value: Any) -> Any:
    """Trim a string and collapse runs of whitespace; other values pass through."""
    if isinstance(value, str):
        return _SPACES.sub(" ", value).strip()
    return value


def clean_address(value: Any) -> Any:
    """Emails and logins compare without case and surrounding spaces."""
    return value.strip().lower() if isinstance(value, str) else value


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def registration_profile(submitted: Mapping[str, Any], organization: str) -> dict[str, Any]:
    """The attributes a self-service registration must change to reach the normal form.

    Only attributes whose value changes are returned, so an already clean sign-up is
    answered without a profile update.
    """
    wanted: dict[str, Any] = {}
    for name in ("email", "login"):
        if name in submitted:
            wanted[name] = clean_address(submitted[name])
    for name in ("firstName", "lastName"):
        if name in submitted:
            wanted[name] = clean_text(submitted[name])
    wanted["organization"] = organization
    return {name: value for name, value in wanted.items() if submitted.get(name) != value}


@dataclass(frozen=True)
class FieldProblem:
    """An attribute the user must fix, with the message shown next to its field."""

    attribute: str
    message: str
    reason: str


@dataclass(frozen=True)
class ProfileReview:
    """The outcome of reviewing a progressive profile submission."""

    problems: tuple[FieldProblem, ...]
    changes: dict[str, Any]
    """Attributes to set: cleaned submissions and values filled in from the directory,
    each only where it differs from the profile as submitted."""


def review_progressive_profile(
    current: Mapping[str, Any],
    submitted: Mapping[str, Any],
    required: Iterable[str],
    legacy: Account | None,
) -> ProfileReview:
    """Check a progressive profile submission against the attributes the company needs.

    Attributes the directory knows are filled in from it; the employee number, when the
    directory has one, must match it.
    """
    changes = {name: clean_text(value) for name, value in submitted.items()}
    known = _directory_values(legacy)
    problems: list[FieldProblem] = []
    for name in required:
        value = changes.get(name, current.get(name))
        if is_blank(value) and not is_blank(known.get(name)):
            changes[name] = value = known[name]
        if is_blank(value):
            problems.append(
                FieldProblem(name, f"{LABELS.get(name, name)} is required.", "REQUIRED")
            )
    for name, value in changes.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            problems.append(
                FieldProblem(
                    name, f"{LABELS.get(name, name)} is at most {MAX_TEXT} characters.", "TOO_LONG"
                )
            )
    number = changes.get("employeeNumber")
    if not is_blank(number) and "employeeNumber" in submitted:
        if not isinstance(number, str) or not _EMPLOYEE_NUMBER.fullmatch(number):
            problems.append(
                FieldProblem(
                    "employeeNumber", "Employee numbers are 1 to 10 digits.", "INVALID_FORMAT"
                )
            )
        elif known.get("employeeNumber") not in (None, number):
            problems.append(
                FieldProblem(
                    "employeeNumber",
                    "This employee number does not match our records.",
                    "MISMATCH",
                )
            )
    # Okta applies the submission itself: only what differs from it needs a command.
    as_submitted = {**current, **submitted}
    changes = {name: value for name, value in changes.items() if as_submitted.get(name) != value}
    return ProfileReview(tuple(problems), changes)


def _directory_values(legacy: Account | None) -> dict[str, Any]:
    if legacy is None:
        return {}
    return {"department": legacy.department, "employeeNumber": legacy.employee_number}
