"""Real SCIM clients no one here wrote, against a served gateway (`idgate serve`, its own database):
scim2-tester runs every check it has; scim2-client drives an IdP-like sync of 1,000 people and 50 groups,
then changes and removals."""

from __future__ import annotations

import os
import re

import pytest

from tests.conftest import fresh_postgres_database
from tests.helpers.processes import clean_env, free_port, idgate, init_with_acme, start_idgate_serve, stop

pytest.importorskip("scim2_tester")
from httpx2 import Client  # noqa: E402
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402
from scim2_models import PatchOp, PatchOperation, SearchRequest  # noqa: E402
from scim2_tester import check_server  # noqa: E402
from scim2_tester.utils import Status  # noqa: E402

PEOPLE, GROUPS = 1000, 50


@pytest.fixture(scope="module")
def served_scim(database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scim-served")
    if database_url.startswith("postgresql"):
        context = fresh_postgres_database(database_url, f"idgate_scim_{os.getpid()}")
        url = context.__enter__()
    else:
        context, url = None, f"sqlite:///{tmp / 'served.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_env(IDGATE_DATABASE_URL=url, IDGATE_INSTANCE_PATH=str(tmp / "instance"), IDGATE_BASE_URL=base,
                    IDGATE_SCIM_LIMIT_TOKEN="100000 per minute")
    init_with_acme(env=env, cwd=tmp)
    printed = idgate("scim", "token", "create", "acme", "--name", "scim2-tester", env=env, cwd=tmp).stdout
    token = re.search(r"token: (\S+)", printed).group(1)
    server = start_idgate_serve(env=env, cwd=tmp, port=port)
    try:
        yield f"{base}/scim/v2/acme", token
    finally:
        print(stop(server))
        if context is not None:
            context.__exit__(None, None, None)


@pytest.fixture
def scim_client(served_scim):
    base, token = served_scim
    with Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        yield SyncSCIMClient(http)


# Checks scim2-tester skips by design, each for a reason of ours (and none else may be skipped).
KNOWN_SKIPS: dict[str, str] = {}


def test_scim2_tester_finds_nothing_wrong(scim_client):
    results = check_server(scim_client)
    wrong = [(r.resource_type, r.title, r.status.name, r.reason) for r in results
             if r.status in (Status.DEVIATION, Status.ERROR, Status.CRITICAL)]
    skipped = [(r.resource_type, r.title, r.reason) for r in results if r.status == Status.SKIPPED]
    print(f"scim2-tester: {len(results)} checks, {len(wrong)} wrong, {len(skipped)} skipped")
    assert wrong == []
    assert [s for s in skipped if s[1] not in KNOWN_SKIPS] == []
    assert len(results) > 40


def test_scim2_client_drives_a_sync_of_people_and_groups(scim_client):
    client = scim_client
    client.discover()
    User, Group = client.get_resource_model("User"), client.get_resource_model("Group")
    people = [client.create(User(user_name=f"person{n}@sync.example", display_name=f"Person {n:04d}",
                                 external_id=f"ext-{n}", active=True,
                                 emails=[User.Emails(value=f"person{n}@sync.example", primary=True)]))
              for n in range(PEOPLE)]
    groups = [client.create(Group(display_name=f"Team {g}", external_id=f"grp-{g}",
                                  members=[Group.Members(value=p.id) for p in people[g * 20:(g + 1) * 20]]))
              for g in range(GROUPS)]
    assert client.query(User, query_parameters=SearchRequest(count=1)).total_results == PEOPLE + 1  # + the admin
    found = client.query(User, query_parameters=SearchRequest(filter='userName eq "PERSON999@sync.example"'))
    assert found.total_results == 1 and found.resources[0].id == people[999].id

    # Changes: 100 people renamed, 50 deactivated, members moved between groups.
    for person in people[:100]:
        client.modify(User, person.id, PatchOp[User](operations=[
            PatchOperation[User](op="replace", path="displayName", value=f"Renamed {person.external_id}")]))
    for person in people[100:150]:
        client.modify(User, person.id, PatchOp[User](operations=[
            PatchOperation[User](op="replace", path="active", value=False)]))
    inactive = client.query(User, query_parameters=SearchRequest(filter="active eq false", count=0))
    assert inactive.total_results == 50
    renamed = client.query(User, query_parameters=SearchRequest(filter='displayName sw "Renamed"', count=0))
    assert renamed.total_results == 100
    for g in range(10):
        client.modify(Group, groups[g].id, PatchOp[Group](operations=[
            PatchOperation[Group](op="remove", path=f'members[value eq "{people[g * 20].id}"]'),
            PatchOperation[Group](op="add", path="members", value=[{"value": people[900 + g].id}])]))
    first = client.query(Group, groups[0].id)
    assert {m.value for m in first.members} == {p.id for p in people[1:20]} | {people[900].id}

    # Removals: 100 people and 10 groups; their memberships of other groups go with them.
    for person in people[200:300]:
        client.delete(User, person.id)
    for group in groups[40:]:
        client.delete(Group, group.id)
    assert client.query(User, query_parameters=SearchRequest(count=0)).total_results == PEOPLE + 1 - 100
    assert client.query(Group, query_parameters=SearchRequest(count=0)).total_results == GROUPS - 10
    assert len(client.query(Group, groups[12].id).members or []) == 0  # people 240..259 were removed
