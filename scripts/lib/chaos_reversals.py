"""The chaos run's support desk: while shares flow and replicas die, an admin
reverses completed shares over the API (whole, or one point of them), each
under its own Idempotency-Key, retried with that key through 502/503/504 and
lost connections as a client should. Bounded in count and time. Writes what
each reversal ended as to a JSON file for the run's checks.

Usage: python3 scripts/lib/chaos_reversals.py API ADMIN_EMAIL ADMIN_PASSWORD COUNT SECONDS OUT.json
"""

import json
import random
import sys
import time
import urllib.error
import urllib.request
import uuid

RETRIED = {502, 503, 504}


def call(api, method, path, token=None, body=None, key=None):
    """(status, JSON body); status 0 when the server could not be reached."""
    request = urllib.request.Request(f"{api}{path}", method=method)
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if key:
        request.add_header("idempotency-key", key)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"null")
        except ValueError:
            return error.code, None
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0, None


def patiently(attempt, until):
    """Repeats `attempt` (the same request) while it was not answered for sure."""
    while True:
        status, body = attempt()
        if status not in RETRIED and status != 0 or time.time() > until:
            return status, body
        time.sleep(0.5)


def main():
    api, email, password, count, seconds, out = sys.argv[1:7]
    count, until = int(count), time.time() + float(seconds)
    # A reversal started in time is followed through its retries a while longer.
    patience = until + 60
    status, body = patiently(lambda: call(api, "POST", "/v1/auth/login", body={"email": email, "password": password}), patience)
    if status != 200:
        sys.exit(f"the admin could not log in: {status} {body}")
    token = body["access_token"]
    status, body = patiently(lambda: call(api, "GET", "/v1/admin/members?role=member&limit=100", token), patience)
    if status != 200:
        sys.exit(f"the admin could not list members: {status} {body}")
    members = [member["id"] for member in body["items"]]
    outcomes, reversed_ids = {}, []
    for _ in range(count):
        if time.time() > until:
            break
        time.sleep(random.uniform(0.1, 2 * float(seconds) / max(count, 1)))
        member = random.choice(members)
        path = f"/v1/admin/members/{member}/transfers?direction=sent&state=completed&limit=20"
        status, page = patiently(lambda: call(api, "GET", path, token), patience)
        candidates = [t for t in (page or {}).get("items", []) if t["kind"] == "share" and t["reversed_amount"] == 0]
        if status != 200 or not candidates:
            continue
        share = random.choice(candidates)
        reversal = {"reason": "chaos: shared with the wrong member"}
        if random.random() < 0.5:
            reversal["amount"] = 1
        key = str(uuid.uuid4())
        reversals = f"/v1/admin/transfers/{share['id']}/reversals"
        status, body = patiently(lambda: call(api, "POST", reversals, token, reversal, key), patience)
        outcome = str(status)
        if isinstance(body, dict) and body.get("code"):
            outcome += f" {body['code']}"
        elif isinstance(body, dict) and body.get("state"):
            outcome += f" {body['state']}"
            reversed_ids.append(body["id"])
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    with open(out, "w") as file:
        json.dump({"outcomes": outcomes, "reversals": reversed_ids}, file)


if __name__ == "__main__":
    main()
