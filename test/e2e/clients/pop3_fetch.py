"""Reads a POP3 maildrop with Python's poplib (RFC 1939 over implicit TLS, RFC 8314) and prints
every message as JSON: [{"n": 1, "uidl": "...", "raw": "<base64>"}]. Nothing is deleted.

usage: pop3_fetch.py HOST PORT CAFILE USER  (the password on stdin)
"""
import base64
import json
import poplib
import ssl
import sys

host, port, cafile, user = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
password = sys.stdin.readline().rstrip("\r\n")

# Verify the server's certificate against the one its `postern init` made, by host name.
context = ssl.create_default_context(cafile=cafile)
pop = poplib.POP3_SSL(host, port, context=context, timeout=30)
pop.user(user)
pop.pass_(password)
count, _size = pop.stat()
out = []
for n in range(1, count + 1):
    uidl = pop.uidl(n).split()[-1].decode()
    _resp, lines, _octets = pop.retr(n)  # poplib undoes the dot-stuffing (RFC 1939 section 3)
    raw = b"\r\n".join(lines) + b"\r\n"
    out.append({"n": n, "uidl": uidl, "raw": base64.b64encode(raw).decode()})
pop.quit()
json.dump(out, sys.stdout)
