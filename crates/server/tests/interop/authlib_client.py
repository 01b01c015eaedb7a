#!/usr/bin/env python3
"""A second relying-party library beside the openidconnect crate: authlib (Python).

    authlib_client.py keygen EC|RSA             -> {"private": JWK, "public": JWK}   (no alg on it)
    authlib_client.py private-key-jwt  < job    -> the token response (client_credentials,
                                                   authenticated with private_key_jwt)
    authlib_client.py jwt-bearer       < job    -> the token response (RFC 7523 grant with a
                                                   self-issued assertion, client_secret_basic)

`job` is JSON: {"token_endpoint", "client_id", "client_secret"?, "private", "alg"}. Errors are
printed as {"error": ..., "status": ...} with exit code 0, so the Rust test can assert on them.
"""
import json
import sys

from authlib.integrations.requests_client import AssertionSession, OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, RSAKey


def keygen(kty):
    key = ECKey.generate_key("P-256") if kty == "EC" else RSAKey.generate_key(2048)
    private = key.as_dict(private=True)
    public = key.as_dict(private=False)
    public["kid"] = private["kid"] = key.thumbprint()
    public["use"] = "sig"
    private.pop("alg", None)
    public.pop("alg", None)
    return {"private": private, "public": public}


def import_key(jwk):
    return ECKey.import_key(jwk) if jwk["kty"] == "EC" else RSAKey.import_key(jwk)


def answer(fetch):
    try:
        return dict(fetch())
    except Exception as err:  # authlib raises OAuthError with .error, requests HTTPError otherwise
        return {"error": getattr(err, "error", type(err).__name__), "description": str(err)}


def main():
    command = sys.argv[1]
    if command == "keygen":
        print(json.dumps(keygen(sys.argv[2])))
        return
    job = json.load(sys.stdin)
    key = import_key(job["private"])
    if command == "private-key-jwt":
        session = OAuth2Session(
            job["client_id"], key, token_endpoint_auth_method="private_key_jwt"
        )
        session.register_client_auth_method(
            PrivateKeyJWT(job["token_endpoint"], headers={"kid": job["private"]["kid"]}, alg=job["alg"])
        )
        result = answer(lambda: session.fetch_token(job["token_endpoint"], grant_type="client_credentials"))
    elif command == "jwt-bearer":
        session = AssertionSession(
            token_endpoint=job["token_endpoint"],
            issuer=job["client_id"],
            subject=job["client_id"],
            audience=job["token_endpoint"],
            key=key,
            header={"alg": job["alg"], "kid": job["private"]["kid"]},
        )
        # client_secret_basic for the client itself (a requests.Session's own Basic auth).
        session.auth = (job["client_id"], job["client_secret"])
        result = answer(lambda: session.refresh_token())
    else:
        sys.exit(f"unknown command {command}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
