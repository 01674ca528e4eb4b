#!/usr/bin/env python3
"""Fills a running gateway's SQLite store with sessions for the memory figure of
bench/run.sh (standard library only).

  sessions_memory.py DB_PATH TEMPLATE_COOKIE COUNT HOT_OUT HOT

Copies the session row behind TEMPLATE_COOKIE (a linked ESIA session) COUNT times
under fresh random ids, in one transaction, and writes the cookie values of the first
HOT of them to HOT_OUT, one per line (a wrk script drives those). The copies' sealed
diary jars do not open under their new keys: their first request signs into the diary
again from the vault, as a session whose jar was lost would — each hot session then
holds its own jar, like a real one.
"""
import base64
import hashlib
import os
import sqlite3
import sys

db, template, count, hot_out, hot = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])


def key(cookie):
    raw = base64.urlsafe_b64decode(cookie.removeprefix("v1.") + "=")
    return hashlib.sha256(raw).digest()


con = sqlite3.connect(db, timeout=30)
con.row_factory = sqlite3.Row
row = con.execute("SELECT * FROM sessions WHERE id_hash = ?", (key(template),)).fetchone()
if row is None:
    sys.exit("the template session is not in the store")
columns = row.keys()
insert = f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
cookies = []
with con:
    for i in range(count):
        raw = os.urandom(32)
        cookie = "v1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")
        values = dict(row)
        values["id_hash"] = hashlib.sha256(raw).digest()
        values["csrf_token"] = base64.urlsafe_b64encode(os.urandom(24)).decode()
        con.execute(insert, [values[c] for c in columns])
        if i < hot:
            cookies.append(cookie)
with open(hot_out, "w") as f:
    f.write("\n".join(cookies) + "\n")
total = con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
print(f"sessions in the store: {total}")
