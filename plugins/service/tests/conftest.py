"""Service tests: the installed service module (with customers, its dependency) and a small
test-only plugin answering ``crm_service_answers`` (enabled only where a test wants it)."""

import pytest

from crm_host import people


@pytest.fixture
def crm_config():
    # Every installed module is discovered, as in a real installation; CRM_SERVICE_TEST_ONLY=1
    # loads just customers and service, to tell whether another module breaks a test.
    import os

    extra = {"svcanswers": "service_answers_testplugin"}
    if os.environ.get("CRM_SERVICE_TEST_ONLY"):
        import importlib.util

        if importlib.util.find_spec("crm_channels"):  # the email survey test needs it
            extra["channels"] = "crm_channels.plugin"
        return {
            "CRM_DISCOVER_PLUGINS": False,
            "CRM_EXTRA_PLUGINS": {
                "customers": "crm_customers.plugin",
                "service": "crm_service.plugin",
                **extra,
            },
        }
    return {"CRM_DISCOVER_PLUGINS": True, "CRM_EXTRA_PLUGINS": extra}


@pytest.fixture
def service(enable_modules):
    enable_modules("service")


@pytest.fixture
def team(crm_app, make_user, service):
    """Customer service (leader Lena, agents Alice and Bob), technical support (Tom) and a
    second service department (Olga), each department with its leader set."""
    leader = make_user("leader", "service", name="Lena Leader")
    alice = make_user("service", name="Alice Agent")
    bob = make_user("service", name="Bob Agent")
    tom = make_user("service", name="Tom Tech")
    olga = make_user("leader", "service", name="Olga Other")
    sales = make_user("sales", name="Sam Sales")
    with crm_app.extensions["crm"].db.session_scope() as s:
        cs = people.create_department(s, "Customer service", leader_id=leader.id)
        tech = people.create_department(s, "Technical support", leader_id=tom.id)
        other = people.create_department(s, "Service South", leader_id=olga.id)
        ids = {"cs": cs.id, "tech": tech.id, "other": other.id}
        from crm_host.models import User

        for u, d in ((leader, cs), (alice, cs), (bob, cs), (sales, cs), (tom, tech), (olga, other)):
            s.get(User, u.id).department_id = d.id
    for u, d in (
        (leader, "cs"),
        (alice, "cs"),
        (bob, "cs"),
        (sales, "cs"),
        (tom, "tech"),
        (olga, "other"),
    ):
        u.department_id = ids[d]
    return {
        "leader": leader,
        "alice": alice,
        "bob": bob,
        "tom": tom,
        "olga": olga,
        "sales": sales,
        "departments": ids,
    }
