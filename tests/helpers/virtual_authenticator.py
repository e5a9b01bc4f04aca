"""Chromium's virtual authenticator (DevTools' WebAuthn domain): a platform authenticator that keeps
discoverable passkeys and verifies its user, attached to one page (and the pages it navigates to)."""

from __future__ import annotations


def add_virtual_authenticator(page) -> "VirtualAuthenticator":
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return VirtualAuthenticator(cdp, added["authenticatorId"])


class VirtualAuthenticator:
    def __init__(self, cdp, authenticator_id: str):
        self.cdp, self.id = cdp, authenticator_id

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]
