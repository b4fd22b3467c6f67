"""Pipeline tests: the installed pipeline module (with customers, its dependency)."""

import pytest

from crm_host import people


@pytest.fixture
def crm_config(tmp_path):
    # Every installed module is discovered, as in a real installation (the tests enable
    # only pipeline and customers); CRM_PIPELINE_TEST_ONLY=1 loads just those two, to tell
    # whether another module is what breaks a test.
    import os

    if os.environ.get("CRM_PIPELINE_TEST_ONLY"):
        plugins = {
            "CRM_DISCOVER_PLUGINS": False,
            "CRM_EXTRA_PLUGINS": {
                "customers": "crm_customers.plugin",
                "pipeline": "crm_pipeline.plugin",
            },
        }
    else:
        plugins = {"CRM_DISCOVER_PLUGINS": True}
    return {**plugins, "CRM_PIPELINE_STORAGE_DIR": str(tmp_path / "files")}


@pytest.fixture
def pipeline(enable_modules):
    enable_modules("pipeline")


@pytest.fixture
def team(crm_app, make_user, pipeline):
    """A sales department with two teams: a leader over both, Alice (north), Bob (south),
    and Carol, a leader of the south team only."""
    with crm_app.extensions["crm"].db.session_scope() as s:
        sales = people.create_department(s, "Sales")
        north = people.create_department(s, "North", sales.id)
        south = people.create_department(s, "South", sales.id)
        ids = (sales.id, north.id, south.id)
    leader = make_user("leader", "sales", department_id=ids[0])
    alice = make_user("sales", department_id=ids[1])
    bob = make_user("sales", department_id=ids[2])
    carol = make_user("leader", "sales", department_id=ids[2])
    return {
        "leader": leader,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "departments": {"sales": ids[0], "north": ids[1], "south": ids[2]},
    }
