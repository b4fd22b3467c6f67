"""Helpers shared by the pipeline tests (a module of its own: test files cannot import one
plugin's conftest reliably when several plugins' tests run in one session)."""


def new_customer(client, name="海宇科技有限公司", **fields):
    r = client.post("/api/v1/customers", json={"name": name, **fields})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def new_deal(client, **fields):
    body = {"name": "ERP rollout", "amount": "120000.00", **fields}
    r = client.post("/api/v1/deals", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()
