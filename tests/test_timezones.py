"""Each user reads times in their own zone (crm_host/timezones.py)."""

import re
from datetime import datetime, timezone

from sqlalchemy import select

from crm_host import timezones
from crm_host.models import User
from crm_host.testing import PASSWORD


def _csrf(client, url):
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_the_browsers_zone_is_kept_at_sign_in_until_the_user_chooses(crm_app, crm_db, make_user):
    user = make_user("sales")
    client = crm_app.test_client()
    token = _csrf(client, "/login")
    r = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                    "csrf_token": token, "tz": "Asia/Taipei"})  # fmt: skip
    assert r.status_code == 302
    crm_db.expire_all()
    assert crm_db.get(User, user.id).timezone == "Asia/Taipei"
    # A made-up zone from a browser is ignored; a chosen zone is never overwritten.
    client.post("/logout", data={"csrf_token": _csrf(client, "/profile")})
    token = _csrf(client, "/login")
    client.post("/login", data={"email": user.email, "password": PASSWORD,
                                "csrf_token": token, "tz": "Europe/Berlin"})  # fmt: skip
    crm_db.expire_all()
    assert crm_db.get(User, user.id).timezone == "Asia/Taipei"


def test_profile_zone_and_pages_show_local_time(crm_app, crm_db, login, make_user):
    client = login("admin")
    token = _csrf(client, "/profile")
    r = client.post("/profile", data={"action": "profile", "csrf_token": token,
                                      "name": "Admin", "locale": "en",
                                      "timezone": "Asia/Shanghai"})  # fmt: skip
    assert r.status_code == 302
    admin = crm_db.scalar(select(User).where(User.id == client.crm_user.id))
    crm_db.refresh(admin)
    assert admin.timezone == "Asia/Shanghai"
    with crm_app.test_request_context():
        at = datetime(2026, 11, 24, 1, 30, tzinfo=timezone.utc)
        assert timezones.to_local(at, admin).strftime("%Y-%m-%d %H:%M") == "2026-11-24 09:30"
        assert timezones.from_local(at.date(), at.time(), admin) == datetime(
            2026, 11, 23, 17, 30, tzinfo=timezone.utc
        )
    # The audit trail lists the profile change in local time (UTC+8 here).
    page = client.get("/admin/audit").get_data(as_text=True)
    now_local = datetime.now(timezones.zone("Asia/Shanghai")).strftime("%Y-%m-%d %H:")
    assert now_local in page


def test_api_refuses_an_unknown_zone(api, make_user):
    admin = api("admin")
    user = make_user("sales")
    r = admin.patch(f"/api/v1/users/{user.id}", json={"version": user.version,
                                                      "timezone": "Mars/Olympus"})  # fmt: skip
    assert r.status_code == 422 and "timezone" in r.get_json()["errors"]
    r = admin.patch(f"/api/v1/users/{user.id}", json={"version": user.version,
                                                      "timezone": "Asia/Hong_Kong"})  # fmt: skip
    assert r.status_code == 200 and r.get_json()["timezone"] == "Asia/Hong_Kong"


def test_organisation_default(crm_app, make_user):
    crm_app.config["CRM_TIMEZONE"] = "Asia/Taipei"
    user = make_user("sales")
    with crm_app.test_request_context():
        assert timezones.user_zone(user).key == "Asia/Taipei"
    crm_app.config["CRM_TIMEZONE"] = "Not/AZone"
    with crm_app.test_request_context():
        assert timezones.user_zone(user).key == "UTC"
