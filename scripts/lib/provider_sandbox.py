"""An independent implementation of provider-api.md (docs: /v1 accounts,
debits, credits, lookups by reference, and the sandbox extensions), written
from the contract alone and sharing no code with pointshare's own simulator:
what `cargo test -p pointshare-provider-http --test sandbox` is run against in
CI, as it would be against a vendor's sandbox. Each call waits 5-30 ms, so a
caller's deadlines meet calls in flight. Standard library only.
Usage: python provider_sandbox.py PORT API_KEY"""

import json
import random
import re
import secrets
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = sys.argv[2]
REFERENCE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
HOLDER = re.compile(r"^.{1,128}$")
LOCK = threading.Lock()
ACCOUNTS = {}  # account_id -> account
HOLDERS = {}  # holder_ref -> account_id
TRANSACTIONS = {}  # reference -> transaction


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Refused(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def amount_of(body):
    amount = body.get("amount")
    if type(amount) is not int or not 1 <= amount <= 1_000_000_000_000:
        raise Refused(400, "invalid_request", "amount must be an integer from 1 to 10^12")
    return amount


def movement(account_id, kind, body):
    reference = body.get("reference")
    if not isinstance(reference, str) or not REFERENCE.match(reference):
        raise Refused(400, "invalid_request", "reference must be 1-128 of [A-Za-z0-9_.:-]")
    amount = amount_of(body)
    memo = body.get("memo")
    if memo is not None and (not isinstance(memo, str) or len(memo) > 140):
        raise Refused(400, "invalid_request", "memo must be at most 140 characters")
    with LOCK:
        # The reference first: a replay answers the original whatever happened since.
        earlier = TRANSACTIONS.get(reference)
        if earlier is not None:
            if (earlier["account_id"], earlier["kind"], earlier["amount"]) == (account_id, kind, amount):
                return 200, earlier
            raise Refused(409, "reference_conflict", "the reference was used for another movement")
        account = ACCOUNTS.get(account_id)
        if account is None:
            raise Refused(404, "account_not_found", "no such account")
        if account["status"] != "active":
            raise Refused(422, "account_inactive", f"the account is {account['status']}")
        if kind == "debit" and account["balance"] < amount:
            raise Refused(422, "insufficient_funds", "the balance is below the amount")
        account["balance"] += amount if kind == "credit" else -amount
        account["updated_at"] = now()
        transaction = {
            "transaction_id": "txn_" + secrets.token_hex(8),
            "reference": reference,
            "account_id": account_id,
            "kind": kind,
            "amount": amount,
            "balance_after": account["balance"],
            "created_at": now(),
        }
        TRANSACTIONS[reference] = transaction
        return 201, transaction


def route(method, path, body):
    parts = path.strip("/").split("/")
    if method == "POST" and parts == ["v1", "accounts"]:
        holder = body.get("holder_ref")
        if not isinstance(holder, str) or not HOLDER.match(holder):
            raise Refused(400, "invalid_request", "holder_ref must be 1-128 characters")
        initial = body.get("initial_balance", 0)
        if type(initial) is not int or initial < 0:
            raise Refused(400, "invalid_request", "initial_balance must be a non-negative integer")
        with LOCK:
            if holder in HOLDERS:
                return 200, ACCOUNTS[HOLDERS[holder]]
            account_id = "acc_" + secrets.token_hex(8)
            ACCOUNTS[account_id] = {"account_id": account_id, "balance": initial, "status": "active", "updated_at": now()}
            HOLDERS[holder] = account_id
            return 201, ACCOUNTS[account_id]
    if len(parts) == 3 and parts[:2] == ["v1", "accounts"] and method in ("GET", "PATCH"):
        with LOCK:
            account = ACCOUNTS.get(parts[2])
            if account is None:
                raise Refused(404, "account_not_found", "no such account")
            if method == "PATCH":
                status = body.get("status")
                if status not in ("active", "frozen", "closed"):
                    raise Refused(400, "invalid_request", "status must be active, frozen or closed")
                account["status"], account["updated_at"] = status, now()
            return 200, account
    if method == "POST" and len(parts) == 4 and parts[:2] == ["v1", "accounts"] and parts[3] in ("debits", "credits"):
        return movement(parts[2], parts[3][:-1], body)
    if method == "GET" and len(parts) == 3 and parts[:2] == ["v1", "transactions"]:
        with LOCK:
            transaction = TRANSACTIONS.get(parts[2])
        if transaction is None:
            raise Refused(404, "transaction_not_found", "no transaction with that reference")
        return 200, transaction
    if method == "GET" and parts == ["v1", "_sandbox", "ledger"]:
        with LOCK:
            total = sum(account["balance"] for account in ACCOUNTS.values())
            return 200, {"accounts": len(ACCOUNTS), "total_balance": total, "transactions": len(TRANSACTIONS)}
    raise Refused(404, "invalid_request", f"no route {method} {path}")


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_call(self):
        time.sleep(random.uniform(0.005, 0.030))
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            if self.headers.get("authorization") != f"Bearer {API_KEY}":
                raise Refused(401, "unauthorized", "missing or wrong API key")
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                raise Refused(400, "invalid_request", "malformed JSON")
            if not isinstance(body, dict):
                raise Refused(400, "invalid_request", "the body must be a JSON object")
            status, answer = route(self.command, self.path.split("?")[0], body)
        except Refused as refused:
            status, answer = refused.status, {"error": {"code": refused.code, "message": refused.message}}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = handle_call

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Provider).serve_forever()
