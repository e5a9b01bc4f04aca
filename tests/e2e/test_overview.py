"""The overview in Chromium at desktop and phone widths (the README's screenshots), checked by axe-core;
and the audit log's table within its page at 1,100 px."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from tests.e2e.test_every_page import AXE, _accessibility_violations
from tests.e2e.test_journeys import ADMIN_PASSWORD, sign_in

pytestmark = pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm ci --prefix tests/e2e)")


def _a_month_behind(gateway) -> None:
    """Thirty days of sign-ins as the roll-ups would hold them, and a few quiet members.

    The figures are written straight into the served gateway's database: a month of real sign-ins
    cannot be had in a test's minute. That the roll-ups match the audit log is
    tests/unit/overview/test_rollups.py's to prove; this is about how the page shows them.
    """
    today = datetime.now(timezone.utc).date()
    db = sqlite3.connect(gateway.workdir / "e2e.db")
    with db:
        org_id = db.execute("SELECT id FROM organizations WHERE slug = 'acme'").fetchone()[0]
        for back in range(30):
            day = (today - timedelta(days=back)).isoformat()
            weekday = (today - timedelta(days=back)).weekday() < 5
            base = (40 if weekday else 9) + (back * 7) % 13
            for method, outcome, n in (("password", "success", base), ("passkey", "success", base // 3),
                                       ("sso", "success", base // 2), ("password", "failed", 2 + back % 4),
                                       ("password", "throttled", 3 if back == 11 else 0)):
                if n:
                    db.execute("INSERT INTO signin_days (org_id, day, method, outcome, count) VALUES (?, ?, ?, ?, ?) "
                               "ON CONFLICT DO UPDATE SET count = count + excluded.count",
                               (org_id, day, method, outcome, n))
            for user in range(int(base * 0.8)):
                db.execute("INSERT OR IGNORE INTO signin_active_days (org_id, day, user_id) VALUES (?, ?, ?)",
                           (org_id, day, 1000 + user))
            db.execute("INSERT INTO signin_people_days (org_id, day, count) VALUES (?, ?, ?) "
                       "ON CONFLICT DO UPDATE SET count = count + excluded.count", (org_id, day, int(base * 0.8)))
        long_ago = (datetime.now(timezone.utc) - timedelta(days=140)).strftime("%Y-%m-%d %H:%M:%S.000000")
        for n, name in enumerate(("Quinn Quiet", "Rory Rarely", "Sam Seldom")):
            cursor = db.execute(
                "INSERT INTO users (email, name, must_change_password, sso_only, created_at, last_login_at) "
                "VALUES (?, ?, 0, 0, ?, ?)", (f"{name.split()[0].lower()}@acme.example.com", name, long_ago,
                                               long_ago if n else None))
            db.execute("INSERT INTO memberships (org_id, user_id, role, status, joined_at, version) "
                       "VALUES (?, ?, 'user', 'active', ?, 1)", (org_id, cursor.lastrowid, long_ago))
        # As a minute later: the figures over all members are counted again at the next read.
        db.execute("DELETE FROM overview_snapshots")
    db.close()


def test_the_overview_at_desktop_and_phone_widths(gateway, person, screenshot):
    admin = person()
    admin.goto(f"{gateway}/signup")
    admin.get_by_label("Organization name").fill("Acme Rockets")
    admin.get_by_label("Short name (used in URLs)").fill("acme")
    admin.get_by_label("Your name").fill("Ada Admin")
    admin.get_by_label("Email").fill("ada@acme.example.com")
    admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    admin.get_by_role("button", name="Create organization").click()
    admin.wait_for_url(f"{gateway}/admin")
    violations = _accessibility_violations(admin)  # the empty overview of a new organization

    admin.goto(f"{gateway}/admin/invitations")
    admin.get_by_label("Email address").fill("ivy@elsewhere.example.com")
    admin.get_by_role("button", name="Create invitation").click()
    _a_month_behind(gateway)

    admin.goto(f"{gateway}/admin")
    assert admin.get_by_role("img", name=re.compile("Sign-ins per day")).is_visible()
    assert admin.get_by_role("cell", name="Quinn Quiet", exact=True).is_visible()
    admin.get_by_text("nginx", exact=True).click()  # a snippet, opened
    assert "auth_request /_idgate_verify" in admin.locator("pre").first.inner_text()
    violations += _accessibility_violations(admin)
    screenshot(admin, "overview")

    # The dormant account deactivated in one confirmed step, back on the overview.
    admin.get_by_role("link", name=re.compile("Deactivate.*Quinn Quiet")).click()
    admin.get_by_role("button", name="Deactivate").click()
    admin.wait_for_url(f"{gateway}/admin")
    assert admin.get_by_text("Deactivated.").is_visible()
    assert admin.get_by_role("cell", name="Quinn Quiet", exact=True).count() == 0
    assert admin.get_by_text("deactivated Quinn Quiet").is_visible()  # among the recent admin actions

    phone = person(width=390)
    sign_in(phone, gateway, "ada@acme.example.com", ADMIN_PASSWORD)
    phone.wait_for_url(re.compile(r".*/account$"))
    phone.goto(f"{gateway}/admin")
    # Nothing runs off the side of a phone's screen but inside the scrolling tables.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    violations += _accessibility_violations(phone)
    screenshot(phone, "overview-phone")
    assert violations == []


def test_the_audit_log_fits_its_page_at_1100_px(gateway, person):
    admin = person(width=1100)
    sign_in(admin, gateway, "ada@acme.example.com", ADMIN_PASSWORD)
    admin.wait_for_url(re.compile(r".*/account$"))
    admin.goto(f"{gateway}/admin/audit")
    assert admin.get_by_text("Ada Admin deactivated Quinn Quiet").is_visible()
    table = admin.locator("table.audit").bounding_box()
    wrap = admin.locator(".table-wrap").bounding_box()
    # The whole table shows: its last column (Details) ends inside the page, with nothing to scroll.
    assert table["x"] + table["width"] <= wrap["x"] + wrap["width"] + 0.5
    assert admin.evaluate("document.querySelector('.table-wrap').scrollWidth <= "
                          "document.querySelector('.table-wrap').clientWidth")
    # (The README's picture of it is test_journeys' "audit" screenshot.)
