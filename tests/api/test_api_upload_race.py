"""Plan limits under concurrent uploads: the check and the insert are one transaction (issue 10)."""
from __future__ import annotations

import threading

from api_support import fake_mp4

CREATE = "/running/sessions/"


def test_twenty_concurrent_uploads_of_a_free_user_accept_exactly_three(world):
    # carol's tenant has no plan: the free limit (3 sessions per 30 days) applies to uc.
    gun = threading.Barrier(20)
    codes: list[int] = []
    lock = threading.Lock()

    def upload():
        gun.wait()
        r = world.client.post(CREATE, data={"user_id": world.users["uc"]},
                              files={"video": ("run.mp4", fake_mp4(), "video/mp4")}, headers=world.h("carol"))
        with lock:
            codes.append(r.status_code)

    threads = [threading.Thread(target=upload) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes) == [200] * 3 + [404] * 17, codes
    rows = [r for r in world.catalog.sessions_by_status() if r.user_id == world.users["uc"]]
    assert len(rows) == 3
    # refused uploads leave no video behind
    stored = [k for k in world.store.fs.find(world.store.path("videos")) if "/source" in k] \
        if world.store.exists("videos") else []
    assert len(stored) == 3
