"""Submits one message with Python's smtplib: STARTTLS on 587 (RFC 3207), AUTH, then
MAIL FROM with SMTPUTF8 and BODY=8BITMIME (RFC 6531, RFC 6152), the message bytes sent as they
are in the file (smtplib only dot-stuffs them).

usage: smtputf8_send.py HOST PORT CAFILE USER FROM TO MESSAGE_FILE  (the password on stdin)
"""
import smtplib
import ssl
import sys

host, port, cafile, user, sender, rcpt, path = sys.argv[1], int(sys.argv[2]), *sys.argv[3:8]
password = sys.stdin.readline().rstrip("\r\n")
with open(path, "rb") as f:
    message = f.read()

context = ssl.create_default_context(cafile=cafile)
with smtplib.SMTP(host, port, timeout=60) as smtp:
    smtp.ehlo("client.test")
    smtp.starttls(context=context)
    smtp.ehlo("client.test")
    for ext in ("smtputf8", "8bitmime"):
        if not smtp.has_extn(ext):
            sys.exit(f"server does not offer {ext.upper()}")
    smtp.login(user, password)
    refused = smtp.sendmail(sender, [rcpt], message, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    if refused:
        sys.exit(f"refused: {refused}")
print("sent")
