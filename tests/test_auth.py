"""H-8: sign-in, sessions, CSRF, throttling, personal API tokens."""

from datetime import timedelta

from sqlalchemy import select, update

from crm_host.db import utcnow
from crm_host.models import ApiToken, LoginAttempt
from crm_host.testing import PASSWORD


def test_login_logout_and_redirect(crm_app, make_user):
    user = make_user("sales")
    c = crm_app.test_client()
    assert c.get("/").status_code == 302
    r = c.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": c.csrf_token(),
            "next": "/admin/users",
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/users")
    assert c.get("/").status_code == 200
    cookie = c.get_cookie("crm_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    c.post("/logout", data={"csrf_token": c.csrf_token()})
    assert c.get("/").status_code == 302


def test_open_redirect_is_refused(crm_app, make_user):
    user = make_user("sales")
    c = crm_app.test_client()
    r = c.post(
        "/login",
        data={
            "email": user.email,
            "password": PASSWORD,
            "csrf_token": c.csrf_token(),
            "next": "//evil.example/x",
        },
    )
    assert r.headers["Location"] == "/"


def test_wrong_password_and_unknown_email(crm_app, make_user):
    user = make_user("sales")
    c = crm_app.test_client()
    r = c.post(
        "/login", data={"email": user.email, "password": "nope-nope", "csrf_token": c.csrf_token()}
    )
    assert r.status_code == 401 and "Wrong email or password" in r.get_data(as_text=True)
    r = c.post(
        "/login",
        data={"email": "ghost@example.com", "password": "whatever1", "csrf_token": c.csrf_token()},
    )
    assert r.status_code == 401
    assert c.get("/").status_code == 302


def test_login_without_csrf_is_refused(crm_app, make_user):
    user = make_user("sales")
    c = crm_app.test_client()
    r = c.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 400
    assert c.get("/").status_code == 302


def test_throttling_after_repeated_failures(crm_app, make_user, crm_db):
    user = make_user("sales")
    c = crm_app.test_client()
    for _ in range(5):
        c.post(
            "/login",
            data={"email": user.email, "password": "bad-password", "csrf_token": c.csrf_token()},
        )
    r = c.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": c.csrf_token()}
    )
    assert r.status_code == 429 and "Too many failed sign-ins" in r.get_data(as_text=True)
    # The API honours the same counter (it lives in the database, shared by all workers).
    r = c.post("/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD})
    assert r.status_code == 429
    # After the window passes, the right password works again.
    crm_db.execute(update(LoginAttempt).values(at=utcnow() - timedelta(hours=1)))
    crm_db.commit()
    r = c.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": c.csrf_token()}
    )
    assert r.status_code == 302


def test_token_lifecycle(crm_app, make_user, crm_db):
    user = make_user("sales")
    c = crm_app.test_client()
    r = c.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD, "name": "cron"}
    )
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert token.startswith("crm_") and r.get_json()["expires_at"]
    # Only a hash is stored.
    assert crm_db.scalar(select(ApiToken.token_hash)) != token
    h = {"Authorization": f"Bearer {token}"}
    me = c.get("/api/v1/me", headers=h)
    assert me.status_code == 200 and me.get_json()["email"] == user.email
    # Token-authenticated writes need no CSRF token.
    listing = c.get("/api/v1/auth/tokens", headers=h).get_json()
    assert [t["name"] for t in listing] == ["cron"] and "token" not in listing[0]
    assert c.delete(f"/api/v1/auth/tokens/{listing[0]['id']}", headers=h).status_code == 204
    r = c.get("/api/v1/me", headers=h)
    assert r.status_code == 401 and r.mimetype == "application/problem+json"


def test_bad_token_requests(crm_app, make_user, crm_db):
    user = make_user("sales")
    c = crm_app.test_client()
    r = c.post("/api/v1/auth/tokens", json={"email": user.email, "password": "wrong-one"})
    assert r.status_code == 401 and r.get_json()["detail"] == "Wrong email or password."
    r = c.post("/api/v1/auth/tokens", json={"email": "not-an-email"})
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"email", "password"}
    r = c.post("/api/v1/auth/tokens", data="{not json", content_type="application/json")
    assert r.status_code == 400
    # Missing, malformed and expired tokens.
    assert c.get("/api/v1/me").status_code == 401
    assert c.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    token = c.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": PASSWORD}
    ).get_json()["token"]
    crm_db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    crm_db.commit()
    r = c.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]


def test_session_api_write_needs_csrf(login):
    client = login("admin")
    r = client.post("/api/v1/departments", json={"name": "Ops"})
    assert r.status_code == 400 and "CSRF" in r.get_json()["detail"]
    r = client.post(
        "/api/v1/departments", json={"name": "Ops"}, headers={"X-CSRFToken": client.csrf_token()}
    )
    assert r.status_code == 201


def test_password_change_signs_out_other_sessions(crm_app, make_user, login, crm_cli):
    user = make_user("sales")
    first = login(user)
    assert first.get("/").status_code == 200
    res = crm_cli("user", "set-password", user.email, "--password", "new-password-1")
    assert res.exit_code == 0
    assert first.get("/").status_code == 302
    assert login(user, password="new-password-1").get("/").status_code == 200
    res = crm_cli("user", "set-password", user.email, "--password", "short")
    assert res.exit_code == 1 and "at least 8" in res.output


def test_deactivated_user_cannot_sign_in_or_use_tokens(api, crm_app, crm_db):
    script = api("sales")
    assert script.get("/api/v1/me").status_code == 200
    admin = api("admin")
    u = admin.get(f"/api/v1/users/{script.user.id}").get_json()
    r = admin.patch(
        f"/api/v1/users/{script.user.id}", json={"version": u["version"], "is_active": False}
    )
    assert r.status_code == 200
    assert script.get("/api/v1/me").status_code == 401


def test_security_headers_and_proxy_fix(crm_app, make_user):
    r = crm_app.test_client().get("/login")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert crm_app.test_client().get("/api/v1/me").headers["Cache-Control"] == "no-store"


def test_throttling_counts_the_forwarded_client_address(crm_database_url, tmp_path, make_user):
    from crm_host.app import create_app

    app = create_app(
        {
            "CRM_DATABASE_URL": crm_database_url,
            "CRM_SECRET_KEY": "k" * 40,
            "CRM_TRUSTED_PROXIES": 1,
            "CRM_LOGIN_MAX_FAILURES_PER_IP": 2,
            "CRM_DISCOVER_PLUGINS": False,
        },
        instance_path=str(tmp_path / "i"),
    )
    c = app.test_client()
    for n in range(2):
        c.post(
            "/api/v1/auth/tokens",
            json={"email": f"x{n}@example.com", "password": "wrong-pass"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
    r = c.post(
        "/api/v1/auth/tokens",
        json={"email": "y@example.com", "password": "wrong-pass"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert r.status_code == 429
    r = c.post(
        "/api/v1/auth/tokens",
        json={"email": "y@example.com", "password": "wrong-pass"},
        headers={"X-Forwarded-For": "198.51.100.9"},
    )
    assert r.status_code == 401  # another client is not blocked
