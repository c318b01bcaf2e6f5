"""Job lists without payloads: what the dashboard and the API list (both backends)."""

from __future__ import annotations

from store_helpers import claim_one, complete, insert_one

from conveyor.store import Store
from conveyor.store.protocol import JobFilter


def test_a_light_list_leaves_args_and_result_out_and_keeps_the_rest(store: Store) -> None:
    job_id = insert_one(store, args={"blob": "x" * 1000}, tenant="acme")
    complete(store, claim_one(store), result={"rows": 3})
    [full] = store.list_jobs(JobFilter(ids=(job_id,)))
    [light] = store.list_jobs(JobFilter(ids=(job_id,), payloads=False))
    assert full.args == {"blob": "x" * 1000} and full.result == {"rows": 3}
    assert light.args is None and light.result is None
    assert (light.id, light.state, light.tenant, light.finished_at) == (
        full.id, full.state, full.tenant, full.finished_at
    )
