"""Refresh tokens through Tessera's real code flow, for the benches: one sign-in and one consent
(PKCE S256), then N more authorization requests on that session (the consent is remembered, so
each answers a code at once), each code redeemed for a refresh token. Prints one token per line.

    python3 bench/flow.py BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD [N]
"""
import base64, hashlib, html, re, secrets, sys, urllib.parse

import requests

base, cid, csec, redirect, username, password = sys.argv[1:7]
n = int(sys.argv[7]) if len(sys.argv) > 7 else 1
s = requests.Session()


def hidden(page):
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


def authorize(first):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = dict(response_type="code", client_id=cid, redirect_uri=redirect, scope="openid offline_access",
             state=secrets.token_urlsafe(8), code_challenge=challenge, code_challenge_method="S256",
             nonce=secrets.token_urlsafe(8))
    r = s.get(base + "/authorize?" + urllib.parse.urlencode(q), allow_redirects=False)
    if first:
        login = r.headers["location"]
        page = s.get(base + login if login.startswith("/") else login).text
        form = hidden(page)
        form.update(username=username, password=password)
        r = s.post(base + "/login", data=form, allow_redirects=False)
        r = s.get(base + r.headers["location"], allow_redirects=False)
        if r.status_code == 200:
            form = hidden(r.text)
            form["decision"] = "approve"
            r = s.post(base + "/authorize/decision", data=form, allow_redirects=False)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["location"]).query)["code"][0]
    t = requests.post(base + "/token", auth=(cid, csec), data=dict(
        grant_type="authorization_code", code=code, redirect_uri=redirect, code_verifier=verifier))
    t.raise_for_status()
    return t.json()["refresh_token"]


for i in range(n):
    print(authorize(i == 0))
