#!/usr/bin/env python3
"""Signs in through a running `esia-gateway demo` as a browser would and prints cookies
for the benchmark's real-path targets (standard library only).

  login_linked.py GATEWAY_URL CA_PEM DIARY_URL

Prints three lines:
  gateway=<value of __Host-esia-gw for an ESIA session linked to `parent` (form mode)>
  legacy=<value of __Host-esia-gw for a password session of `student`>
  diary=<Cookie header value of the demo diary's own session of `parent`>
"""
import http.cookiejar
import re
import ssl
import sys
import urllib.parse
import urllib.request

gateway, ca, diary = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3].rstrip("/")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browser():
    jar = http.cookiejar.CookieJar()
    ctx = ssl.create_default_context(cafile=ca)
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ctx),
        urllib.request.HTTPCookieProcessor(jar),
        NoRedirect,
    )
    return opener, jar


def fetch(opener, url, form=None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    try:
        resp = opener.open(urllib.request.Request(url, data=data), timeout=30)
    except urllib.error.HTTPError as e:  # 3xx/4xx arrive here without redirects
        resp = e
    body = resp.read().decode("utf-8", "replace")
    return resp.status if hasattr(resp, "status") else resp.code, resp.headers.get("Location"), body


def absolute(base, location):
    return urllib.parse.urljoin(base, location)


def cookie(jar, name):
    for c in jar:
        if c.name == name:
            return c.value
    sys.exit(f"no {name} cookie")


def field(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    if not m:
        sys.exit(f"no {name} field in the page")
    return m.group(1)


# An ESIA login as the confirmed persona, then the link form with parent / demo.
b, jar = browser()
status, loc, _ = fetch(b, gateway + "/esia/login?return=/marks")
assert status == 302, status
status, loc2, html = fetch(b, loc)
if status == 200:
    pending = field(html, "pending")
    action = re.search(r'<form[^>]*action="([^"]+)"', html).group(1)
    status, loc2, _ = fetch(b, absolute(loc, action), {"pending": pending, "persona": "confirmed"})
status, loc3, _ = fetch(b, loc2)  # the gateway's callback
assert status == 302, (status, loc3)
status, _, html = fetch(b, gateway + "/esia/link?return=/marks")
if status == 200 and 'name="csrf"' in html:
    status, loc4, _ = fetch(
        b,
        gateway + "/esia/link",
        {"csrf": field(html, "csrf"), "return": "/marks", "login": "parent", "password": "demo"},
    )
    assert status == 302 and loc4 == "/marks", (status, loc4)
status, _, html = fetch(b, gateway + "/marks")
assert status == 200, ("linked session did not reach the grades", status)
print("gateway=" + cookie(jar, "__Host-esia-gw"))

# A password session of the pupil, through the gateway's copy of the diary form.
p, pjar = browser()
status, loc, _ = fetch(p, gateway + "/login", {"login": "student", "password": "demo"})
assert status in (302, 303), status
print("legacy=" + cookie(pjar, "__Host-esia-gw"))

# The diary's own session, straight at the diary (the nginx reference sends it).
d, djar = browser()
fetch(d, diary + "/login", {"login": "parent", "password": "demo"})
print("diary=" + "; ".join(f"{c.name}={c.value}" for c in djar))
