"""Tessera's real code flow, for the benches: one sign-in and one consent (PKCE S256), after which
every authorization request on that browser session answers a code at once (the consent is
remembered). Used by bench/load.py (codes and refresh tokens for the write paths) and, as a
command, by bench/rotation-cost: prints N refresh tokens, one per line.

    python3 bench/flow.py BASE CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD [N]
"""
import base64, hashlib, html, re, secrets, sys, urllib.parse

import requests

# The PKCE pair of RFC 7636 Appendix B, for codes minted in bulk (bench/peer uses the same).
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _hidden(page):
    return {html.unescape(k): html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}


class Flow:
    """A signed-in browser session at BASE for one client, its consent given."""

    def __init__(self, base, client_id, client_secret, redirect_uri, username, password,
                 scope="openid offline_access"):
        self.base, self.cid, self.csec, self.redirect, self.scope = base, client_id, client_secret, redirect_uri, scope
        self.s = requests.Session()
        verifier, challenge = pkce()
        r = self.s.get(self.authorize_url(challenge), allow_redirects=False)
        login = r.headers["location"]
        page = self.s.get(base + login if login.startswith("/") else login).text
        form = _hidden(page)
        form.update(username=username, password=password)
        r = self.s.post(base + "/login", data=form, allow_redirects=False)
        r = self.s.get(base + r.headers["location"], allow_redirects=False)
        if r.status_code == 200:
            form = _hidden(r.text)
            form["decision"] = "approve"
            r = self.s.post(base + "/authorize/decision", data=form, allow_redirects=False)
        self.redeem(self._code(r), verifier)

    def authorize_url(self, challenge):
        """The authorization request, as a path and query on BASE."""
        q = dict(response_type="code", client_id=self.cid, redirect_uri=self.redirect, scope=self.scope,
                 state="bench", code_challenge=challenge, code_challenge_method="S256", nonce="bench")
        return self.base + "/authorize?" + urllib.parse.urlencode(q)

    def cookie_header(self):
        """The session's cookies as one Cookie header value (for a load generator)."""
        return "; ".join(f"{c.name}={c.value}" for c in self.s.cookies)

    @staticmethod
    def _code(response):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(response.headers["location"]).query)["code"][0]

    def code(self, challenge):
        return self._code(self.s.get(self.authorize_url(challenge), allow_redirects=False))

    def redeem(self, code, verifier):
        t = requests.post(self.base + "/token", auth=(self.cid, self.csec), data=dict(
            grant_type="authorization_code", code=code, redirect_uri=self.redirect, code_verifier=verifier))
        t.raise_for_status()
        return t.json()

    def tokens(self):
        """One more code, redeemed: the token response."""
        verifier, challenge = pkce()
        return self.redeem(self.code(challenge), verifier)


if __name__ == "__main__":
    base, cid, csec, redirect, username, password = sys.argv[1:7]
    flow = Flow(base, cid, csec, redirect, username, password)
    for _ in range(int(sys.argv[7]) if len(sys.argv) > 7 else 1):
        print(flow.tokens()["refresh_token"])
