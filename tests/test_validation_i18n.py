"""marshmallow's messages reach users in their language (crm_host/validation_i18n.py)."""

import marshmallow as ma
import pytest

from crm_host.validation_i18n import Message


@pytest.mark.parametrize(
    ("locale", "required", "too_long", "bad_int", "range_"),
    [
        ("en", "Missing data for required field.", "Length must be between 1 and 120.",
         "Not a valid integer.", "Must be greater than or equal to 1 and less than or equal to 200."),
        ("zh_Hant", "此欄位為必填。", "長度必須介於 1 與 120 之間。", "不是有效的整數。",
         "必須大於或等於 1 且小於或等於 200。"),
        ("zh_Hans", "此字段为必填。", "长度必须在 1 到 120 之间。", "不是有效的整数。",
         "必须大于或等于 1 且小于或等于 200。"),
    ],
)  # fmt: skip
def test_api_errors_speak_the_users_language(
    api, enable_modules, crm_db, locale, required, too_long, bad_int, range_
):
    enable_modules("alpha")
    client = api("sales")
    client.user.locale = locale
    crm_db.merge(client.user)
    crm_db.commit()
    r = client.post("/api/v1/alpha/items", json={})
    assert r.status_code == 422 and r.get_json()["errors"]["name"] == [required]
    r = client.post("/api/v1/alpha/items", json={"name": "x" * 121})
    assert r.get_json()["errors"]["name"] == [too_long]
    r = client.get("/api/v1/alpha/items", query_string={"page": "abc", "per_page": 500})
    errors = r.get_json()["errors"]
    assert errors["page"] == [bad_int] and errors["per_page"] == [range_]


def test_outside_a_request_messages_stay_english_and_equal_the_original():
    schema = ma.Schema.from_dict({"n": ma.fields.Integer(validate=ma.validate.Range(min=1))})()
    with pytest.raises(ma.ValidationError) as exc:
        schema.load({"n": 0})
    assert exc.value.messages == {"n": ["Must be greater than or equal to 1."]}
    assert Message("Invalid value.") == "Invalid value."


def test_lazy_strings_outside_a_request_read_in_the_default_language(crm_app):
    from flask_babel import lazy_gettext

    with crm_app.app_context():  # the CLI and the worker: an app, no request
        assert str(lazy_gettext("Missing data for required field.")) == (
            "Missing data for required field."
        )
