"""Sends one message with Python's smtplib, the fallback client where swaks is not installed.

Reads a JSON request on stdin: {"host", "port", "ehlo", "from", "to": [...], and either "data"
(the whole message, sent as it is) or "subject", "body" and "headers"}; with "cafile", "user" and
"password" it does STARTTLS (RFC 3207, verifying the server's certificate by its name) and AUTH.
Prints a JSON result {"starttls", "auth", "data"}: the reply codes and text the server gave.
Exits non-zero when any step is refused.
"""
import json
import smtplib
import ssl
import sys
from email.message import EmailMessage

req = json.load(sys.stdin)
if "data" in req:
    message = req["data"].encode("utf-8")
else:
    m = EmailMessage()
    m["From"] = req["from"]
    m["To"] = ", ".join(req["to"])
    m["Subject"] = req["subject"]
    for k, v in req.get("headers", {}).items():
        m[k] = v
    m.set_content(req["body"])
    message = m.as_bytes()

result = {"starttls": None, "auth": None, "data": None}
with smtplib.SMTP(req["host"], req["port"], local_hostname=req.get("ehlo", "client.test"), timeout=30) as smtp:
    smtp.ehlo()
    if req.get("cafile"):
        code, _ = smtp.starttls(context=ssl.create_default_context(cafile=req["cafile"]))
        result["starttls"] = code
        smtp.ehlo()
    if req.get("user"):
        code, _ = smtp.login(req["user"], req["password"])
        result["auth"] = code
    smtp.mail(req["from"])
    for rcpt in req["to"]:
        code, text = smtp.rcpt(rcpt)
        if code >= 300:
            sys.exit(f"RCPT TO:<{rcpt}> refused: {code} {text.decode()}")
    code, text = smtp.data(message)
    result["data"] = f"{code} {text.decode()}"
    if code >= 300:
        print(json.dumps(result))
        sys.exit(f"DATA refused: {code} {text.decode()}")
print(json.dumps(result))
