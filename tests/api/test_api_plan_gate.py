"""One plan gate for both doors (issue 25 item 20): what the API refuses without a paid plan (its
summary metrics, gait analysis and commentary threads) is not on the coach's page nor in its
PDF/PNG reports either, and a plan change opens both doors at once."""
from __future__ import annotations

import pytest

from api.tenancy import PLAN_REQUIRED
from storage.catalog import User


def _set_plan(world, name: str, plan: str | None) -> None:
    with world.catalog.session() as db:
        db.get(User, world.users[name]).plan = plan


def _page_doc(world, caller: str, sid: str) -> dict:
    r = world.client.get(f"/app/api/sessions/{sid}", headers=world.h(caller))
    assert r.status_code == 200, r.text
    return r.json()


def test_free_plan_page_and_reports_hold_nothing_the_api_refuses(world):
    sid = world.add_session("uc")            # carol's tenant: no plan
    summary = world.client.get(f"/running/sessions/{sid}/summary/", headers=world.h("carol"))
    assert summary.status_code == 404 and summary.json()["error"] == PLAN_REQUIRED
    gait = world.client.post(f"/running/sessions/{sid}/gait-analysis/", headers=world.h("carol"))
    assert gait.status_code == 404
    doc = _page_doc(world, "carol", sid)
    assert doc["status"] == "done"
    assert doc["cards"] == [] and doc["gait"] == {} and doc["commentary"] == {}
    assert doc["plan_required"] == PLAN_REQUIRED
    names = {d["name"] for d in doc["downloads"]}
    assert "report.pdf" not in names and "report.png" not in names and "frames.csv" in names
    # What the API gives a free plan (per-frame series, as its details and export) stays on the page.
    assert doc["series"]["time_s"] and doc["video"]["url"]
    for name in ("report.pdf", "report.png"):
        r = world.client.get(f"/app/api/sessions/{sid}/downloads/{name}", headers=world.h("carol"))
        assert r.status_code == 403, (name, r.status_code)
        assert r.json()["error"] == PLAN_REQUIRED
        assert not r.content.startswith((b"%PDF", b"\x89PNG"))
    assert world.client.get(f"/app/api/sessions/{sid}/downloads/frames.csv", headers=world.h("carol")).status_code == 200


@pytest.mark.parametrize("plan", [None, "free", "basic", "standard", "PRO", "enterprise"])
def test_the_api_and_the_page_follow_one_gate(world, plan):
    """Whatever the (inherited) plan, the API's summary and the page's metric blocks open and close together."""
    sid = world.add_session("uc")
    _set_plan(world, "carol", plan)
    api_open = world.client.get(f"/running/sessions/{sid}/summary/", headers=world.h("carol")).status_code == 200
    doc = _page_doc(world, "carol", sid)
    page_open = bool(doc["cards"]) and bool(doc["gait"]) and bool(doc["commentary"])
    assert api_open == page_open == (plan is not None and plan.lower() in ("standard", "pro", "enterprise"))
    assert (doc["plan_required"] is None) == api_open
    pdf = world.client.get(f"/app/api/sessions/{sid}/downloads/report.pdf", headers=world.h("carol"))
    assert (pdf.status_code != 403) == api_open
