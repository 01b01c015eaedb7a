#!/usr/bin/env python3
"""Tessera beside the peer, every endpoint, in one invocation (run through scripts/load, which
builds the release binary and measures the RSA reference first).

Servers, each pinned to CPU 1 while wrk runs on CPU 0, loopback only:
  tessera   the release binary at its default configuration (log level info, every request
            logged to a file as a collector would take it; caches at their defaults) on a
            throw-away SQLite file (synchronous=FULL)
  tessera-pg  the same binary on a throw-away PostgreSQL database, for the write paths
  peer      node-oidc-provider 9.13.3 (bench/peer/start.mjs, ES256, its in-memory adapter)
  floor     crates/server/examples/floor.rs: actix-web answering POST /token with a token signed by
            our key code and nothing else (no client authentication, form, middleware, log or
            metrics) — the most an actix-web token endpoint reaches on this core; measured for
            cc_es256 and cc_rs256 (FLOOR=0 leaves it out). Each round also times the JWS
            signature alone on CPU 1 (`floor sign-rate`, RS256 and ES256, SIGN_SECONDS each).

Endpoints (ONLY= picks a subset): discovery, jwks, cc_es256, cc_rs256 (Tessera; its goal is the
RSA sign rate), introspect (Tessera: its JWT access token; the peer introspects only opaque
tokens), userinfo (access token of the code flow), code (redemption of codes minted beforehand:
Tessera's through its real /authorize on a signed-in session with remembered consent, the peer's
through its own models, bench/peer `POST /bench/codes`), refresh (every connection walks its own
rotation chain). For RUNS rounds the servers take turns per endpoint, so drift hits all alike.
Before the rounds: idle RSS, then MIXED seconds of mixed load (every endpoint at once) and RSS.

Every measurement of a fixed request follows WARMUP seconds of the same load, discarded. Besides
each server's own CPU seconds per second of load, the PostgreSQL processes' are counted (the
database shares the two cores with the server and wrk).

Prints one RESULT line per measurement, a Markdown table of medians (min–max) with ratios, and
the goals of issue 12 as PASS/MISS. Exits 1 when a measured request failed (a broken bench),
not when a goal is missed (STRICT=1 makes misses fail too). Ends by itself.

  RUNS=3 DURATION=8 WARMUP=2 CONNECTIONS=32 MIXED=60 ONLY=... STORES="sqlite postgres" PEER=1 FLOOR=1
  SIGN_SECONDS=3
  CODE_POOL=12000 RSA_SIGN_RATE=<signatures/s, from scripts/load> python3 bench/load.py
"""
import base64, json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from flow import CHALLENGE, VERIFIER, Flow  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DURATION = int(os.environ.get("DURATION", "8"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "32"))
MIXED = int(os.environ.get("MIXED", "60"))
WARMUP = int(os.environ.get("WARMUP", "2"))
CODE_POOL = int(os.environ.get("CODE_POOL", "12000"))
ENDPOINTS = ["discovery", "jwks", "cc_es256", "cc_rs256", "introspect", "userinfo", "code", "refresh"]
ONLY = [e for e in os.environ.get("ONLY", ",".join(ENDPOINTS)).split(",") if e]
STORES = os.environ.get("STORES", "sqlite postgres").split()
PEER = os.environ.get("PEER", "1") == "1"
FLOOR = os.environ.get("FLOOR", "1") == "1"
SIGN_SECONDS = int(os.environ.get("SIGN_SECONDS", "3"))
FLOOR_BIN = os.path.join(ROOT, "target/release/examples/floor")
FLOOR_ENDPOINTS = {"cc_es256", "cc_rs256"}
RSA = float(os.environ["RSA_SIGN_RATE"]) if os.environ.get("RSA_SIGN_RATE") else None
BIN = os.path.join(ROOT, "target/release/tessera")
LUA = os.path.join(HERE, "wrk/load.lua")
REDIRECT = "http://127.0.0.1:9/cb"
PASSWORD = "correct horse battery staple"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
WRITE_PATHS = {"code", "refresh"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def wait_ready(url, proc, log):
    for _ in range(200):
        if proc.poll() is not None:
            break
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    sys.stderr.write(open(log).read())
    raise SystemExit(f"server at {url} did not become ready")


def wrk_command(url, connections, duration):
    return ["taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
            "--latency", "-s", LUA, url]


def wrk_env(env):
    return {**os.environ, **{k.upper(): str(v) for k, v in env.items()}}


def wrk_result(stdout):
    line = next((l for l in stdout.splitlines() if l.startswith("WRKRESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{stdout}")
    return {k: int(v) for k, v in (kv.split("=") for kv in line.split()[1:])}


def count_lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def wrk(url, connections=CONNECTIONS, duration=DURATION, **env):
    """One wrk run on CPU 0 with bench/wrk/load.lua; its WRKRESULT line as a dict."""
    out = subprocess.run(wrk_command(url, connections, duration), env=wrk_env(env), capture_output=True,
                         text=True, timeout=duration + 60)
    return wrk_result(out.stdout + out.stderr)


class Server:
    def __init__(self, name, cmd, env, cwd, ready_path):
        self.name, self.port = name, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(WORK, f"{name}.log")
        env = {**env, "PORT": str(self.port), "TESSERA_LISTEN": f"127.0.0.1:{self.port}",
               "TESSERA_ISSUER": self.base}
        self.proc = subprocess.Popen(["taskset", "-c", "1", *cmd], env=env, cwd=cwd,
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_ready(self.base + ready_path, self.proc, self.log)
        self.discovery = requests.get(self.base + "/.well-known/openid-configuration").json()

    def path(self, key):
        return self.discovery[key]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def tessera_env(database_url, keys):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_") and k != "RUST_LOG"}
    return {**env, "TESSERA_DATABASE_URL": database_url, "TESSERA_KEYS_DIR": keys}


def cli(env, *args):
    return subprocess.run([BIN, *args], env=env, check=True, capture_output=True, text=True).stdout


class Tessera(Server):
    """Clients and a user made with the CLI on the database before it serves."""

    def __init__(self, name, database_url):
        env = tessera_env(database_url, os.path.join(WORK, f"{name}-keys"))
        pw = os.path.join(WORK, "password")
        open(pw, "w").write(PASSWORD + "\n")
        cli(env, "user", "add", "bench", "--password-file", pw)

        def client(*args):
            c = json.loads(cli(env, "client", "create", "--json", *args))
            return c["client_id"], c["client_secret"]

        self.cc = {alg: client("--name", f"cc {alg}", "--grant-type", "client_credentials", "--scope", "api.read",
                               "--access-token-alg", alg) for alg in ("ES256", "RS256")}
        self.code_client = client("--name", "code", "--redirect-uri", REDIRECT, "--grant-type", "authorization_code",
                                  "--grant-type", "refresh_token", "--scope", "openid offline_access",
                                  "--id-token-alg", "ES256", "--access-token-alg", "ES256")
        super().__init__(name, [BIN, "serve"], env, ROOT, "/health/ready")
        self._flow = None

    @property
    def flow(self):
        """The signed-in browser session, made on first use (after the idle RSS is read)."""
        if self._flow is None:
            self._flow = Flow(self.base, *self.code_client, REDIRECT, "bench", PASSWORD)
        return self._flow

    def cc_auth(self, alg="ES256"):
        return basic(*self.cc[alg])

    def cc_token(self, alg="ES256"):
        return requests.post(self.path("token_endpoint"), data={"grant_type": "client_credentials"},
                             headers={"Authorization": self.cc_auth(alg)}).json()["access_token"]

    def code_auth(self):
        return basic(*self.code_client)

    def mint(self, n):
        """n codes through GET /authorize on the signed-in session (consent remembered)."""
        path = os.path.join(WORK, f"{self.name}-codes.txt")
        # The last round's codes (all used) must not count as minted before wrk truncates the file.
        if os.path.exists(path):
            os.remove(path)
        env = dict(mode="mint", mint=n, mint_out=path, bench_cookie=self.flow.cookie_header())
        # wrk sleeps out its whole duration even when every thread has stopped: interrupt it
        # (it reports and exits on SIGINT) once the codes are written.
        job = subprocess.Popen(wrk_command(self.flow.authorize_url(CHALLENGE), CONNECTIONS, 100),
                               env=wrk_env(env), stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 100
        while job.poll() is None and time.monotonic() < deadline and count_lines(path) < n:
            time.sleep(0.1)
        job.send_signal(signal.SIGINT)
        try:
            job.wait(timeout=10)
        except subprocess.TimeoutExpired:  # the codes are on file line by line already
            job.kill()
            job.wait()
        if count_lines(path) < n:
            raise SystemExit(f"minted {count_lines(path)} of {n} codes at {self.base}; see {self.log}")
        return path

    def user_tokens(self, n):
        return [self.flow.tokens() for _ in range(n)]


class Peer(Server):
    CC = ("bench-client", "bench-secret-0123456789abcdef")
    CODE = ("bench-code-client", "bench-code-secret-0123456789abcdef")

    def __init__(self):
        peer = os.path.join(HERE, "peer")
        if not os.path.isdir(os.path.join(peer, "node_modules", "oidc-provider")):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=peer, check=True, stdout=sys.stderr)
        env = {**os.environ, "NODE_ENV": "production", "ACCESS_TOKEN_ALG": "ES256"}
        super().__init__("peer", ["node", "start.mjs"], env, peer, "/.well-known/openid-configuration")

    def cc_auth(self, alg="ES256"):
        return basic(*self.CC)

    def cc_token(self, alg="ES256", **extra):
        return requests.post(self.path("token_endpoint"), data={"grant_type": "client_credentials", **extra},
                             headers={"Authorization": self.cc_auth()}).json()["access_token"]

    def code_auth(self):
        return basic(*self.CODE)

    def mint(self, n):
        path = os.path.join(WORK, "peer-codes.txt")
        r = requests.post(f"{self.base}/bench/codes?n={n}", timeout=120)
        r.raise_for_status()
        open(path, "w").write(r.text)
        return path

    def user_tokens(self, n):
        codes = open(self.mint(n)).read().split()
        return [requests.post(self.path("token_endpoint"), headers={"Authorization": self.code_auth()}, data=dict(
            grant_type="authorization_code", code=c, redirect_uri=REDIRECT, code_verifier=VERIFIER)).json()
                for c in codes]


class Floor(Server):
    """The floor: actix-web and one signature per request (crates/server/examples/floor.rs)."""

    def __init__(self):
        self.keys = os.path.join(WORK, "floor-keys")
        port = free_port()
        # Server() picks its own port; the floor takes its address on the command line.
        self.port, self.base = port, f"http://127.0.0.1:{port}"
        self.name, self.log = "floor", os.path.join(WORK, "floor.log")
        self.proc = subprocess.Popen(["taskset", "-c", "1", FLOOR_BIN, "serve", f"127.0.0.1:{port}", self.keys],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT)
        wait_ready(self.base + "/.well-known/openid-configuration", self.proc, self.log)
        self.discovery = requests.get(self.base + "/.well-known/openid-configuration").json()

    def cc_auth(self, alg="ES256"):
        return basic("floor", "unchecked")

    def sign_rate(self, alg):
        out = subprocess.run(["taskset", "-c", "1", FLOOR_BIN, "sign-rate", self.keys, alg, str(SIGN_SECONDS)],
                             check=True, capture_output=True, text=True).stdout
        return float(out.strip())


def check(r, what):
    if r.status_code != 200:
        raise SystemExit(f"{what}: {r.status_code} {r.text[:300]}")
    return r


def prepare(server, endpoint):
    """(url, wrk env) for one measurement; anything it needs is made here, outside the timing."""
    if endpoint == "discovery":
        return server.base + "/.well-known/openid-configuration", {}
    if endpoint == "jwks":
        return server.path("jwks_uri"), {}
    if endpoint.startswith("cc_"):
        alg = endpoint[3:].upper()
        path = "token_endpoint_rs256" if isinstance(server, Floor) and alg == "RS256" else "token_endpoint"
        return server.path(path), dict(bench_method="POST", bench_body="grant_type=client_credentials",
                                                   bench_auth=server.cc_auth(alg))
    if endpoint == "introspect":
        token = server.cc_token(resource="urn:bench:opaque") if isinstance(server, Peer) else server.cc_token()
        url = server.path("introspection_endpoint")
        r = check(requests.post(url, data={"token": token}, headers={"Authorization": server.cc_auth()}), "introspect")
        assert r.json()["active"] is True, r.text
        return url, dict(bench_method="POST", bench_body=f"token={token}", bench_auth=server.cc_auth())
    if endpoint == "userinfo":
        token = server.user_tokens(1)[0]["access_token"]
        url = server.path("userinfo_endpoint")
        check(requests.get(url, headers={"Authorization": f"Bearer {token}"}), "userinfo")
        return url, dict(bench_auth=f"Bearer {token}")
    if endpoint == "code":
        return server.path("token_endpoint"), dict(
            mode="redeem", pool_file=server.mint(CODE_POOL), bench_auth=server.code_auth(),
            bench_body=f"redirect_uri={REDIRECT}&code_verifier={VERIFIER}")
    if endpoint == "refresh":
        path = os.path.join(WORK, f"{server.name}-refresh.txt")
        open(path, "w").write("\n".join(t["refresh_token"] for t in server.user_tokens(2 * CONNECTIONS)) + "\n")
        return server.path("token_endpoint"), dict(mode="refresh", pool_file=path, bench_auth=server.code_auth())
    raise ValueError(endpoint)


def postgres_cpu_seconds():
    """CPU seconds of every PostgreSQL process on the machine (its backends serve the bench)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def measure(server, endpoint, run):
    url, env = prepare(server, endpoint)
    if env.get("mode", "fixed") == "fixed" and WARMUP > 0:
        # Discarded: connections opened, caches and allocator warm (pooled modes consume their
        # pool, so they start cold; their pools are made fresh for every measurement anyway).
        wrk(url, duration=WARMUP, **env)
    cpu0, db0 = cpu_seconds(server.proc.pid), postgres_cpu_seconds()
    r = wrk(url, **env)
    cpu, db = cpu_seconds(server.proc.pid) - cpu0, postgres_cpu_seconds() - db0
    window = max(r["window_us"], 1) / 1e6
    row = dict(server=server.name, endpoint=endpoint, run=run, rps=r["responses"] / window,
               p50_ms=r["p50_us"] / 1e3, p99_ms=r["p99_us"] / 1e3, non2xx=r["non2xx"], errors=r["errors"],
               cpu_per_s=cpu / window, db_cpu_per_s=db / window, responses=r["responses"])
    print("RESULT " + " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
          flush=True)
    return row


def mixed(servers):
    """MIXED seconds of every read and write path at once against each server in turn (eight
    connections per path, one wrk each on CPU 0), then its RSS."""
    out = {}
    for server in servers:
        jobs = []
        for endpoint in ("discovery", "jwks", "cc_es256", "introspect", "userinfo", "refresh"):
            url, env = prepare(server, endpoint)
            jobs.append(subprocess.Popen(wrk_command(url, 8, MIXED), env=wrk_env(env), stdout=subprocess.PIPE,
                                         text=True))
        results = [wrk_result(j.communicate(timeout=MIXED + 60)[0]) for j in jobs]
        responses = sum(r["responses"] for r in results)
        failed = sum(r["non2xx"] + r["errors"] for r in results)
        if failed:
            raise SystemExit(f"{failed} failed requests in the mixed load on {server.name}; see {server.log}")
        out[server.name] = (rss_mb(server.proc.pid), responses)
        print(f"# mixed {MIXED}s on {server.name}: {responses:,} responses, RSS {out[server.name][0]:.1f} MB",
              flush=True)
    return out


def main():
    global WORK
    WORK = tempfile.mkdtemp(prefix="tessera-load-")
    servers, pg_db = [], None
    try:
        tessera = Tessera("tessera", f"sqlite://{WORK}/tessera.db?mode=rwc")
        servers.append(tessera)
        tessera_pg = None
        if "postgres" in STORES and WRITE_PATHS & set(ONLY):
            pg_db = f"tessera_load_{os.getpid()}"
            subprocess.run(["psql", PG_ADMIN, "-qc", f"create database {pg_db}"], check=True)
            tessera_pg = Tessera("tessera-pg", f"postgres://postgres@127.0.0.1:5432/{pg_db}")
            servers.append(tessera_pg)
        peer = Peer() if PEER else None
        if peer:
            servers.append(peer)
        floor = Floor() if FLOOR and FLOOR_ENDPOINTS & set(ONLY) else None
        if floor:
            servers.append(floor)
        time.sleep(1)
        idle = {s.name: rss_mb(s.proc.pid) for s in servers if s is not floor}
        print("# idle RSS: " + ", ".join(f"{n} {v:.1f} MB" for n, v in idle.items()), flush=True)
        after_mixed = mixed([s for s in (tessera, peer) if s]) if MIXED > 0 else {}

        rows = []
        for run in range(1, RUNS + 1):
            if floor:
                for alg in ("RS256", "ES256"):
                    rate = floor.sign_rate(alg)
                    rows.append(dict(server="sign", endpoint=alg, run=run, rps=rate, non2xx=0, errors=0))
                    print(f"RESULT server=sign endpoint={alg} run={run} rps={rate:.2f}", flush=True)
            for endpoint in ONLY:
                targets = [tessera] if "sqlite" in STORES or endpoint not in WRITE_PATHS else []
                if endpoint in WRITE_PATHS and tessera_pg:
                    targets.append(tessera_pg)
                if peer and endpoint != "cc_rs256":
                    targets.append(peer)
                if floor and endpoint in FLOOR_ENDPOINTS:
                    targets.append(floor)
                for server in targets:
                    print(f"# round {run}/{RUNS}: {endpoint} on {server.name}", file=sys.stderr, flush=True)
                    rows.append(measure(server, endpoint, run))
        end = {s.name: rss_mb(s.proc.pid) for s in servers if s is not floor}
        return report(rows, idle, after_mixed, end)
    finally:
        for s in servers:
            s.stop()
        if pg_db:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"drop database if exists {pg_db} with (force)"])
        if os.environ.get("KEEP"):
            print(f"# kept {WORK}", file=sys.stderr)
        else:
            shutil.rmtree(WORK, ignore_errors=True)


def report(rows, idle, after_mixed, end):
    def med(server, endpoint, key="rps"):
        v = [r[key] for r in rows if r["server"] == server and r["endpoint"] == endpoint]
        return (statistics.median(v), min(v), max(v)) if v else None

    print(f"\nServers on CPU 1, wrk -t1 -c{CONNECTIONS} on CPU 0, {DURATION} s per measurement, "
          f"medians of {RUNS} (min–max); the peer is node-oidc-provider 9.13.3 (in-memory storage).\n")
    print("| endpoint | Tessera req/s | p99 | CPU s/s: server (+ PostgreSQL) | peer req/s | peer p99 | Tessera / peer |")
    print("|---|---|---|---|---|---|---|")
    ratio = {}
    for endpoint in ONLY:
        theirs = med("peer", endpoint)
        for name in ("tessera", "tessera-pg"):
            ours = med(name, endpoint)
            if not ours:
                continue
            label = endpoint + (" (PostgreSQL)" if name == "tessera-pg" else
                                " (SQLite)" if endpoint in WRITE_PATHS else "")
            p99, cpu = med(name, endpoint, "p99_ms")[0], med(name, endpoint, "cpu_per_s")[0]
            cpu = f"{cpu:.2f}" + (f" (+ {med(name, endpoint, 'db_cpu_per_s')[0]:.2f})" if name == "tessera-pg" else "")
            peer_cols = "— | — | —"
            if theirs:
                ratio[(name, endpoint)] = ours[0] / theirs[0]
                peer_cols = (f"{theirs[0]:,.0f} ({theirs[1]:,.0f}–{theirs[2]:,.0f}) | "
                             f"{med('peer', endpoint, 'p99_ms')[0]:.1f} ms | {ratio[(name, endpoint)]:.1f}×")
            print(f"| {label} | {ours[0]:,.0f} ({ours[1]:,.0f}–{ours[2]:,.0f}) | {p99:.1f} ms | {cpu} | {peer_cols} |")
    print("\nRSS (MB): " + "; ".join(
        f"{n}: idle {idle[n]:.1f}" + (f", after {MIXED} s mixed {after_mixed[n][0]:.1f}" if n in after_mixed else "")
        + f", at the end {end[n]:.1f}" for n in idle))
    if RSA:
        print(f"Reference, same run: {RSA:,.0f} RSA-2048 signatures/s on CPU 1 (aws-lc-rs, criterion).")
    floor_rows = [(e, med("floor", e)) for e in ("cc_es256", "cc_rs256") if med("floor", e)]
    if floor_rows:
        print("\nThe floor (actix-web + one signature, nothing else), same rounds:\n")
        print("| endpoint | floor req/s | floor p99 | Tessera / floor | floor / peer | JWS signatures/s alone |")
        print("|---|---|---|---|---|---|")
        for endpoint, f in floor_rows:
            ours, theirs = med("tessera", endpoint), med("peer", endpoint)
            sign = med("sign", endpoint[3:].upper())
            print(f"| {endpoint} | {f[0]:,.0f} ({f[1]:,.0f}–{f[2]:,.0f}) | {med('floor', endpoint, 'p99_ms')[0]:.1f} ms | "
                  + (f"{ours[0] / f[0]:.0%}" if ours else "—") + " | "
                  + (f"{f[0] / theirs[0]:.1f}×" if theirs else "—") + " | "
                  + (f"{sign[0]:,.0f} ({sign[1]:,.0f}–{sign[2]:,.0f})" if sign else "—") + " |")

    goals = []

    def goal(text, value, ok):
        if value is not None:
            goals.append((ok(value), text.format(value)))

    goal("client_credentials ES256 {:.1f}× the peer (≥ 8×)", ratio.get(("tessera", "cc_es256")), lambda v: v >= 8)
    es = med("tessera", "cc_es256", "p99_ms")
    goal("client_credentials ES256 p99 {:.2f} ms (< 5 ms)", es and es[0], lambda v: v < 5)
    goal("JWKS {:.1f}× the peer (≥ 6×)", ratio.get(("tessera", "jwks")), lambda v: v >= 6)
    rs = med("tessera", "cc_rs256")
    if rs and RSA:
        goal("client_credentials RS256 = {:.0%} of the RSA-2048 sign rate (≥ 90 %)", rs[0] / RSA, lambda v: v >= 0.9)
    goal("introspection of a JWT {:.1f}× the peer's (≥ 5×)", ratio.get(("tessera", "introspect")), lambda v: v >= 5)
    sq, pg = med("tessera", "refresh"), med("tessera-pg", "refresh")
    goal("refresh on SQLite {:,.0f}/s (≥ 1,000)", sq and sq[0], lambda v: v >= 1000)
    goal("refresh on PostgreSQL {:,.0f}/s (≥ 2,000)", pg and pg[0], lambda v: v >= 2000)
    goal("idle RSS {:.1f} MB (< 30)", idle.get("tessera"), lambda v: v < 30)
    if "tessera" in after_mixed:
        goal(f"RSS after {MIXED} s of mixed load {{:.1f}} MB (< 60)", after_mixed["tessera"][0], lambda v: v < 60)
    failed = sum(r["non2xx"] + r["errors"] for r in rows)
    goals.append((failed == 0, f"failed requests in the measurements: {failed}"))
    print()
    for ok, text in goals:
        print(("PASS " if ok else "MISS ") + text)
    if failed:
        return 1
    return 0 if all(ok for ok, _ in goals) or os.environ.get("STRICT") != "1" else 1


if __name__ == "__main__":
    sys.exit(main())
