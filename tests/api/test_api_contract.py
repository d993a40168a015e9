"""Contract: every operation's success response validates against the (corrected) shared spec,
and every documented error code is provoked at least once."""
from __future__ import annotations

import pytest

from api_support import assert_matches, fake_mp4
from storage.catalog import SessionStatus, Thread

DETAILS = "/running/sessions/{session_id}/"
SUMMARY = "/running/sessions/{session_id}/summary/"
EXPORT = "/running/sessions/{session_id}/export/"
FORM = "/running/sessions/{session_id}/form-analysis/"
GAIT = "/running/sessions/{session_id}/gait-analysis/"
FORM_REC = "/running/sessions/{session_id}/form-recommendations/"
GAIT_REC = "/running/sessions/{session_id}/recommendation/"
TOTAL = "/running/sessions/metrics/total/"
CREATE = "/running/sessions/"


def url(template: str, sid: str) -> str:
    return template.replace("{session_id}", sid)


def upload(world, who: str, user: str, data: dict | None = None, content: bytes | None = None, filename="run.mp4"):
    files = {"video": (filename, content if content is not None else fake_mp4(), "video/mp4")}
    form = {"user_id": world.users.get(user, user), **(data or {})}
    return world.client.post(CREATE, data=form, files=files, headers=world.h(who))


# -- success responses --------------------------------------------------------------
def test_create_session_returns_id_and_title_and_launches(world):
    r = upload(world, "alice", "ua", {"session_name": "Tempo", "incline_degree": "2.5", "body_joint_angles": "elbow, knee, ankle",
                                       "capture_fps": "240"})
    assert r.status_code == 200, r.text
    assert_matches(r.json(), CREATE, "post", 200)
    sid = r.json()["session_id"]
    assert r.json()["title"] == "Tempo"
    assert world.launched == [sid]
    row = world.catalog.get_session(sid)
    assert (row.status, row.incline_deg, row.joints, row.capture_fps, row.user_id) == ("queued", 2.5, "elbow,knee,ankle", 240.0, world.users["ua"])
    assert world.store.exists(row.video_key)


def test_create_session_fallback_title_and_defaults(world):
    r = upload(world, "ua", "ua")
    assert r.status_code == 200, r.text
    assert r.json()["title"].startswith("Running session ")
    row = world.catalog.get_session(r.json()["session_id"])
    assert row.joints == "all" and row.incline_deg == 0.0


def test_management_alias_of_the_curl_example(world):
    r = world.client.post("/running/management/sessions/", data={"user_id": world.users["ua"]},
                          files={"video": ("v.mp4", fake_mp4(), "video/mp4")}, headers=world.h("alice"))
    assert r.status_code == 200, r.text


def test_session_details(world):
    sid = world.add_session("ua")
    r = world.client.get(url(DETAILS, sid), headers=world.h("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, DETAILS, "get")
    assert body["created_at"] == {"date": "07/04/2025", "time": "01:05 PM"}
    assert body["activity"] == "Running" and body["title"] == "ua run" and body["user_name"] == "Ua"
    assert isinstance(body["metrics"]["speed"], list) and len(body["all_timestamps"]) == 12
    # a per-stride metric's session value: its summary block's (the statistics stored with the run)
    assert body["calculated_metrics"]["speed_avg"] == pytest.approx(sum([3.0, 3.01, 3.02, 3.03]) / 4)
    # Browser-openable, signed, working links.
    for name in ("video_url", "analyzed_video_url"):
        link = body[name]
        assert "sig=" in link and "expires=" in link
        got = world.client.get(link)
        assert got.status_code == 200 and got.content.startswith(b"\x00\x00\x00\x18ftyp")
    ranged = world.client.get(body["video_url"], headers={"Range": "bytes=4-7"})
    assert ranged.status_code == 206 and ranged.content == b"ftyp"


def test_session_details_filters_angles_by_selected_joints(world):
    sid = world.add_session("ua", joints="knee")
    angles = world.client.get(url(DETAILS, sid), headers=world.h("ua")).json()["angles"]
    assert set(angles) == {"lkne_angle", "rkne_angle", "posture_angle"}


def test_summary(world):
    sid = world.add_session("ua")
    r = world.client.get(url(SUMMARY, sid), headers=world.h("ua"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, SUMMARY, "get")
    assert body["summary_text"] == {}  # required by the spec: present and empty until commentary is saved
    assert body["session_date"] == "07/04/2025"
    assert body["user_information"]["user"] == world.users["ua"] and body["user_information"]["age"] == "34"
    assert body["running_mechanics"]["footstrike"] == "midfoot"


def test_summary_text_appears_once_threads_are_done(world):
    sid = world.add_session("ua")
    ids = world.client.post(url(SUMMARY, sid), headers=world.h("alice")).json()
    with world.catalog.session() as db:
        for block, tid in ids.items():
            thread = db.get(Thread, tid)
            thread.status, thread.text = "done", f"comment on {block}"
    body = world.client.get(url(SUMMARY, sid), headers=world.h("ua")).json()
    assert_matches(body, SUMMARY, "get")
    assert body["summary_text"]["final_summary"] == "comment on final_summary"
    details = world.client.get(url(DETAILS, sid), headers=world.h("ua")).json()
    assert details["summary"] == "comment on final_summary"


def test_export(world):
    sid = world.add_session("ua")
    r = world.client.get(url(EXPORT, sid), headers=world.h("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, EXPORT, "get")
    assert body["contact"] == [i % 2 == 0 for i in range(12)]
    kp = body["keypoints"]
    # every COCO keypoint the frames schema declares (x, y, speed), nose and both sides of 8 joints
    assert len(kp) == 3 * (1 + 2 * 8) and {"lknex", "lkney", "lknev", "rankx", "nosev"} <= set(kp)
    assert kp["lknex"][1] == pytest.approx(0.01) and kp["lkney"][-1] is None
    assert kp["lknev"][3] == pytest.approx(0.6)  # 0.01 m per frame at 60 fps
    assert kp["rankx"] == [None] * 12  # no metric coordinates: null, never pixels in their place


def test_form_analysis(world):
    sid = world.add_session("ua")
    r = world.client.post(url(FORM, sid), headers=world.h("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, FORM, "post")
    assert set(body["images"]) == {"contact_angle", "push_angle", "knee_ankle"}
    assert world.client.get(body["images"]["push_angle"]).status_code == 200
    assert body["metrics"]["eversion_velocity"] is None
    assert body["user_info"]["uid"] == world.users["ua"] and body["date"] == "07/04/2025"


def test_gait_analysis(world):
    sid = world.add_session("ua")
    r = world.client.post(url(GAIT, sid), headers=world.h("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, GAIT, "post")
    assert set(body["left"]["phases"]) == {"strike", "mid_stance", "takeoff", "flight", "new_strike"}
    assert body["user_info"]["session_count"] == 1 and body["user_info"]["admin_name"] == "Alice"


def test_gait_analysis_without_snapshots_has_null_image_urls(world):
    sid = world.add_session("ua", images=False)
    body = world.client.post(url(GAIT, sid), headers=world.h("alice")).json()
    assert_matches(body, GAIT, "post")
    assert body["right"]["phases"]["strike"]["image_url"] is None


@pytest.mark.parametrize("template,blocks", [
    (SUMMARY, {"performance_metrics", "running_mechanics", "balance_and_posture", "distance_and_duration", "final_summary"}),
    (FORM_REC, {"contact_angle", "push_angle", "knee_ankle", "general_form_recommendation"}),
    (GAIT_REC, {f"{s}_{j}_angle" for s in ("left", "right") for j in ("posture", "hip", "knee", "ankle")}),
])
def test_thread_operations(world, template, blocks):
    sid = world.add_session("us" if template == FORM_REC else "ua")
    r = world.client.post(url(template, sid), headers=world.h("sam" if template == FORM_REC else "alice"))
    assert r.status_code == 201, r.text
    assert_matches(r.json(), template, "post", 201)
    assert set(r.json()) == blocks
    assert len(set(r.json().values())) == len(blocks)
    tid = next(iter(r.json().values()))
    thread = world.client.get(f"/running/threads/{tid}/", headers=world.h("us" if template == FORM_REC else "ua"))
    # the rule engine (no LLM configured) fills every thread before the 201
    assert thread.status_code == 200 and thread.json()["status"] == "done" and thread.json()["text"]
    assert thread.json()["engine"] == "rules" and thread.json()["fallback_reason"] is None


def test_summary_threads_record_the_measurement_system(world):
    sid = world.add_session("ua")
    ids = world.client.post(url(SUMMARY, sid) + "?measurement_system=imperial", headers=world.h("alice")).json()
    with world.catalog.session() as db:
        assert db.get(Thread, ids["final_summary"]).options["measurement_system"] == "imperial"


def test_total_metrics(world):
    world.add_session("ua", seed=0.0)
    world.add_session("us", seed=1.0)
    world.add_session("ub", seed=5.0)  # another tenant: must not count
    r = world.client.get(TOTAL, headers=world.h("alice"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert_matches(body, TOTAL, "get")
    expected = (3.015 + 4.015) / 2  # mean of the two sessions' stride speed averages
    assert body["avg_metrics"]["avg_speed"] == pytest.approx(expected)
    assert body["last_session_metrics"]["incline"] == {"avg": 1.0, "min": 1.0, "max": 1.0}
    assert body["last_session_created_at"] == {"date": "07/04/2025", "time": "01:05 PM"}
    # The sub-admin sees only its own user.
    sub = world.client.get(TOTAL, headers=world.h("sam")).json()
    assert sub["avg_metrics"]["avg_speed"] == pytest.approx(4.015)


@pytest.mark.parametrize("method,template", [
    ("get", DETAILS), ("get", SUMMARY), ("get", EXPORT), ("post", FORM), ("post", GAIT)])
def test_demo_sessions(world, method, template):
    r = getattr(world.client, method)(url(template, "anything") + "?demo=true", headers=world.h("uc"))
    assert r.status_code == 200, r.text
    assert_matches(r.json(), template, method)


# -- error codes ---------------------------------------------------------------------
def test_400_missing_fields_and_bad_values(world):
    no_user = world.client.post(CREATE, files={"video": ("v.mp4", fake_mp4(), "video/mp4")}, headers=world.h("alice"))
    assert no_user.status_code == 400 and "user_id" in no_user.json()["error"]
    no_video = world.client.post(CREATE, data={"user_id": world.users["ua"]}, headers=world.h("alice"))
    assert no_video.status_code == 400 and "video" in no_video.json()["error"]
    joints = upload(world, "alice", "ua", {"body_joint_angles": "knee, wrist"})
    assert joints.status_code == 400 and "wrist" in joints.json()["error"]
    incline = upload(world, "alice", "ua", {"incline_degree": "steep"})
    assert incline.status_code == 400 and "incline_degree" in incline.json()["error"]
    fps = upload(world, "alice", "ua", {"capture_fps": "-5"})
    assert fps.status_code == 400
    demo = world.client.get(url(DETAILS, "abc") + "?demo=maybe", headers=world.h("alice"))
    assert demo.status_code == 400 and "error" in demo.json()
    system = world.client.post(url(SUMMARY, "abc") + "?measurement_system=cubits", headers=world.h("alice"))
    assert system.status_code == 400
    assert world.launched == []


def test_401_without_or_with_bad_credentials(world):
    sid = world.add_session("ua")
    for headers in ({}, {"Authorization": "API-KEY nope"}, {"API-KEY": "glk_AAAAAAAAAAAA_" + "x" * 43},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": world.keys["ua"]}):
        r = world.client.get(url(DETAILS, sid), headers=headers)
        assert r.status_code == 401, headers
        assert set(r.json()) == {"error"}
    assert world.client.get(TOTAL).status_code == 401
    assert world.client.post(url(FORM_REC, sid)).status_code == 401


def test_api_key_header_variant_works(world):
    sid = world.add_session("ua")
    assert world.client.get(url(DETAILS, sid), headers={"API-KEY": world.keys["ua"]}).status_code == 200


def test_403_upload_for_someone_else_as_plain_user(world):
    r = upload(world, "ua", "us")
    assert r.status_code == 403 and "admin" in r.json()["error"]


def test_403_thread_creation_by_plain_user_and_form_recommendations_without_plan(world):
    sid = world.add_session("ua")
    r = world.client.post(url(GAIT_REC, sid), headers=world.h("ua"))
    assert r.status_code == 403
    sid_c = world.add_session("uc")
    r = world.client.post(url(FORM_REC, sid_c), headers=world.h("carol"))
    assert r.status_code == 403 and "plan" in r.json()["error"]


@pytest.mark.parametrize("method,template", [("get", SUMMARY), ("post", FORM), ("post", GAIT), ("post", GAIT_REC)])
def test_404_without_a_payment_plan(world, method, template):
    sid = world.add_session("uc")
    r = getattr(world.client, method)(url(template, sid), headers=world.h("carol"))
    assert r.status_code == 404 and "plan" in r.json()["error"]
    # Session details and export are not plan-gated.
    assert world.client.get(url(DETAILS, sid), headers=world.h("carol")).status_code == 200


def test_404_summary_threads_without_plan(world):
    sid = world.add_session("uc")
    assert world.client.post(url(SUMMARY, sid), headers=world.h("carol")).status_code == 404


def test_404_unknown_session_and_session_limit(world):
    r = world.client.get(url(DETAILS, "doesnotexist"), headers=world.h("alice"))
    assert r.status_code == 404 and r.json() == {"error": "session not found"}
    # carol's tenant has no plan: the free limit (3 per 30 days) applies.
    for _ in range(3):
        assert upload(world, "carol", "uc").status_code == 200
    r = upload(world, "carol", "uc")
    assert r.status_code == 404 and "limit" in r.json()["error"]


def test_404_total_metrics_without_sessions(world):
    r = world.client.get(TOTAL, headers=world.h("bob"))
    assert r.status_code == 404 and "no processed sessions" in r.json()["error"]


@pytest.mark.parametrize("status", [SessionStatus.QUEUED, SessionStatus.PROCESSING, SessionStatus.FAILED])
def test_409_until_processed(world, status):
    sid = world.add_session("ua", status=status)
    for method, template in (("get", DETAILS), ("get", SUMMARY), ("get", EXPORT), ("post", FORM), ("post", GAIT), ("post", GAIT_REC)):
        r = getattr(world.client, method)(url(template, sid), headers=world.h("alice"))
        assert r.status_code == 409, (template, r.text)
        assert r.json()["status"] == status
        if status == SessionStatus.FAILED:
            assert "no runner" in r.json()["error"]


def test_413_oversized_upload(world):
    r = upload(world, "alice", "ua", content=fake_mp4(2 << 20))  # limit is 1 MB in these tests
    assert r.status_code == 413 and "limit" in r.json()["error"]
    assert world.store.list("videos") == []


def test_500_is_json(world, monkeypatch):
    sid = world.add_session("ua")
    from api import reports

    monkeypatch.setattr(reports, "session_details", lambda *a, **k: 1 / 0)
    r = world.client.get(url(DETAILS, sid), headers=world.h("ua"))
    assert r.status_code == 500 and r.json() == {"error": "internal server error"}
