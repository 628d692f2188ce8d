"""Runs the SCIM conformance checker scim2-tester against a Roster server.

Usage: scim_conformance.py BASE_URL API_KEY

Prints one line per check and exits non-zero when any check it runs fails.
Roster's `userName` is a person's email address (their identity), so the
discovered User model is given unique addresses as examples: scim2-tester
fills `userName` from them instead of random text. Group resources are not
put through create/replace/delete: Roster's groups are its fixed roles.
"""

import sys
import uuid

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main() -> int:
    base, key = sys.argv[1], sys.argv[2]
    client = SyncSCIMClient(
        httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    )
    client.discover()
    user = client.get_resource_model("User")
    user.model_fields["user_name"].examples = [
        f"person-{uuid.uuid4().hex}@conformance.test" for _ in range(100_000)
    ]
    # Groups are Roster's roles: fixed, neither created nor deleted, so the
    # checker's create-read-update-delete of a group cannot run (docs/SCIM.md).
    results = check_server(client, resource_types=["User"])
    failed = 0
    for r in results:
        reason = f" — {r.reason}" if r.reason else ""
        print(f"{r.status.name:8} {r.title}{reason}"[:240])
        if r.status not in (Status.SUCCESS, Status.SKIPPED):
            failed += 1
    print(f"scim2-tester: {len(results) - failed} of {len(results)} checks passed")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
