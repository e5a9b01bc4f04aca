"""An application's access rule, and why it admits a member: one function for /auth/verify, the
console and the API alike."""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    everyone: bool  # every active member of the organization
    roles: frozenset[str] = frozenset()  # else: members with one of these roles…
    groups: frozenset[str] = frozenset()  # …or in one of these groups (by name)

    def admits(self, role: str | None, groups) -> bool:
        """The check /auth/verify makes on every request (why() says the same in words)."""
        return self.everyone or role in self.roles or not self.groups.isdisjoint(groups)

    def why(self, role: str | None, groups) -> str | None:
        """Why a member with this role and these groups is admitted, or None when they are not."""
        if self.everyone:
            return "everyone in the organization"
        if role in self.roles:
            return f"role {role}"
        for group in sorted(self.groups.intersection(groups)):
            return f"group {group}"
        return None

    def describe(self) -> str:
        """The rule in words, for the page a refused member sees."""
        if self.everyone:
            return "everyone in the organization"
        parts = [f"role {name}" for name in sorted(self.roles)] + [f"group {name}" for name in sorted(self.groups)]
        return "members with " + " or ".join(parts) if parts else "nobody yet"
