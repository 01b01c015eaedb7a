//! The `tessera` binary: configuration errors, start-up failures and key commands exit non-zero
//! with a message that names the problem, never a panic; `serve` stops cleanly on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Output, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::Value;
use tempfile::TempDir;
use tessera_testkit::fixtures::{grant_record, session_record};

pub(crate) fn tessera(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("tessera runs")
}

pub(crate) fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TESSERA_") || k == "RUST_LOG") {
        command.env_remove(key);
    }
    command.envs(env.iter().copied());
    command
}

fn failed_with(output: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "exit code; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    }
}

#[test]
fn config_check_accepts_the_defaults_from_any_directory() {
    let dir = TempDir::new().unwrap();
    let output = tessera(dir.path(), &["config", "check"], &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("issuer = http://127.0.0.1:8080") && stdout.contains("configuration OK"),
        "{stdout}"
    );
}

#[test]
fn bad_values_and_unknown_keys_stop_with_the_key_named() {
    let dir = TempDir::new().unwrap();
    failed_with(
        &tessera(
            dir.path(),
            &["config", "check"],
            &[("TESSERA_CODE_TTL", "601")],
        ),
        &["TESSERA_CODE_TTL"],
    );
    failed_with(
        &tessera(
            dir.path(),
            &["config", "check"],
            &[("TESSERA_ACCESS_TOKEN_TTL", "soon")],
        ),
        &["`TESSERA_ACCESS_TOKEN_TTL`: expected a whole number of seconds, got `soon`"],
    );
    failed_with(
        &tessera(
            dir.path(),
            &["config", "check"],
            &[("TESSERA_SELF_REGISTRATION", "sometimes")],
        ),
        &["`TESSERA_SELF_REGISTRATION`: expected true or false, got `sometimes`"],
    );
    failed_with(
        &tessera(
            dir.path(),
            &["serve"],
            &[("TESSERA_ISSUER", "http://id.example.com")],
        ),
        &["TESSERA_ISSUER"],
    );
    // An environment variable that names no setting is not fatal (orchestrators inject some:
    // Kubernetes makes TESSERA_PORT and TESSERA_SERVICE_HOST for a Service named tessera); it is
    // named in one warning, with the setting a typo was probably meant for.
    let tolerated = tessera(
        dir.path(),
        &["config", "check"],
        &[
            ("TESSERA_DATABSE_URL", "x"),
            ("TESSERA_PORT", "tcp://10.0.0.7:8080"),
            ("TESSERA_SERVICE_HOST", "10.0.0.7"),
        ],
    );
    let stderr = String::from_utf8_lossy(&tolerated.stderr);
    assert!(tolerated.status.success(), "{stderr}");
    assert!(
        stderr.contains("TESSERA_DATABSE_URL (did you mean TESSERA_DATABASE_URL?)")
            && stderr.contains("TESSERA_PORT")
            && stderr.contains("TESSERA_SERVICE_HOST"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("tessera.toml"),
        "issuer = \"https://id.example.com\"\nlisten_addr = \"0.0.0.0:80\"\n",
    )
    .unwrap();
    failed_with(
        &tessera(dir.path(), &["config", "check"], &[]),
        &["unknown setting `listen_addr` in ", "tessera.toml"],
    );
    std::fs::write(
        dir.path().join("tessera.toml"),
        "issuer = \"https://id.example.com\"\ncode_tll = 30\nworkers = \"many\"\n",
    )
    .unwrap();
    failed_with(
        &tessera(dir.path(), &["config", "check"], &[]),
        &["unknown setting `code_tll`", "(did you mean `code_ttl`?)"],
    );
    std::fs::write(
        dir.path().join("tessera.toml"),
        "issuer = \"https://id.example.com\"\n",
    )
    .unwrap();
    let ok = tessera(dir.path(), &["config", "check"], &[]);
    assert!(String::from_utf8_lossy(&ok.stdout).contains("issuer = https://id.example.com"));
    // The environment wins over the file.
    let env_wins = tessera(
        dir.path(),
        &["config", "check"],
        &[("TESSERA_ISSUER", "https://other.example.com")],
    );
    assert!(
        String::from_utf8_lossy(&env_wins.stdout).contains("issuer = https://other.example.com")
    );
    failed_with(
        &tessera(
            dir.path(),
            &["--config", "missing.toml", "config", "check"],
            &[],
        ),
        &["missing.toml"],
    );
}

#[test]
fn secrets_can_come_from_files_and_are_never_printed() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("db-url"),
        "postgres://tessera:hunter2@db.internal/tessera\n",
    )
    .unwrap();
    let output = tessera(
        dir.path(),
        &["config", "check"],
        &[
            ("TESSERA_DATABASE_URL_FILE", "db-url"),
            ("TESSERA_KEYS_PASSPHRASE", "correct horse"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("database_url = postgres://tessera:***@db.internal/tessera"),
        "{stdout}"
    );
    assert!(stdout.contains("keys_passphrase = (set)"));
    assert!(!stdout.contains("hunter2") && !stdout.contains("correct horse"));
    failed_with(
        &tessera(
            dir.path(),
            &["config", "check"],
            &[("TESSERA_KEYS_PASSPHRASE_FILE", "nope")],
        ),
        &["TESSERA_KEYS_PASSPHRASE_FILE", "nope"],
    );
}

#[test]
fn an_unusable_key_folder_stops_start_up_with_its_path() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("keyfile"), "not a folder").unwrap();
    failed_with(
        &tessera(
            dir.path(),
            &["serve"],
            &[
                ("TESSERA_KEYS_DIR", "keyfile"),
                ("TESSERA_LISTEN", "127.0.0.1:0"),
            ],
        ),
        &["key folder", "keyfile"],
    );
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/manifest.json"), "[]").unwrap();
    failed_with(
        &tessera(
            dir.path(),
            &["serve"],
            &[
                ("TESSERA_KEYS_DIR", "broken"),
                ("TESSERA_LISTEN", "127.0.0.1:0"),
            ],
        ),
        &["invalid manifest"],
    );
}

#[test]
fn an_unreachable_database_stops_start_up_with_a_clear_message() {
    let dir = TempDir::new().unwrap();
    failed_with(
        &tessera(
            dir.path(),
            &["serve"],
            &[
                (
                    "TESSERA_DATABASE_URL",
                    "postgres://tessera:pw@127.0.0.1:1/tessera",
                ),
                ("TESSERA_LISTEN", "127.0.0.1:0"),
            ],
        ),
        &["cannot connect to the database at postgres://tessera:***@127.0.0.1:1/tessera"],
    );
}

#[test]
fn migrate_applies_the_schema_once() {
    let dir = TempDir::new().unwrap();
    let first = tessera(dir.path(), &["migrate"], &[]);
    let all = {
        use tessera_migration::MigratorTrait;
        tessera_migration::Migrator::migrations().len()
    };
    assert!(
        String::from_utf8_lossy(&first.stdout).contains(&format!("applied {all} migration(s)")),
        "{first:?}"
    );
    let second = tessera(dir.path(), &["migrate"], &[]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("applied 0 migration(s)"));
    assert!(
        dir.path().join("data/tessera.db").is_file(),
        "default SQLite file under ./data/"
    );
}

#[test]
fn keys_rotate_and_list() {
    let dir = TempDir::new().unwrap();
    let list = |dir: &Path| -> Vec<Value> {
        let output = tessera(dir, &["keys", "list", "--json"], &[]);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let rotate = tessera(
        dir.path(),
        &["keys", "rotate", "--alg", "ES256", "--json"],
        &[],
    );
    assert!(rotate.status.success(), "{rotate:?}");
    let created: Vec<Value> = serde_json::from_slice(&rotate.stdout).unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["alg"], "ES256");

    let keys = list(dir.path());
    let states: Vec<(String, String)> = keys
        .iter()
        .map(|k| {
            (
                k["alg"].as_str().unwrap().into(),
                k["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("RS256".into(), "active".into()),
            ("ES256".into(), "active".into()),
            ("ES256".into(), "next".into())
        ],
        "rotation keeps the current key signing until the new one activates"
    );
    let usage = tessera(dir.path(), &["keys", "rotate", "--alg", "HS256"], &[]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(
        String::from_utf8_lossy(&usage.stderr).contains("unsupported signing algorithm `HS256`")
    );
}

#[tokio::test]
async fn keys_copy_moves_the_key_set_into_the_database_and_back_and_serve_uses_it() {
    let dir = TempDir::new().unwrap();
    let url = tessera_storage::testing::fresh_database_url(dir.path()).await;
    let db: &[(&str, &str)] = &[
        ("TESSERA_DATABASE_URL", &url),
        ("TESSERA_KEYS_PASSPHRASE", "a passphrase"),
    ];
    let db_store = [db, &[("TESSERA_KEYS_STORE", "database")]].concat();
    let list = |env: &[(&str, &str)]| -> Value {
        let output = tessera(dir.path(), &["keys", "list", "--json"], env);
        assert!(output.status.success(), "{output:?}");
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let output = tessera(dir.path(), args, env);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // A folder with three keys (one rotation), stored unencrypted.
    run(&["keys", "rotate", "--alg", "ES256"], &[]);
    let folder_keys = list(&[]);
    assert_eq!(folder_keys.as_array().unwrap().len(), 3);

    // The database store always encrypts: no passphrase, no copy.
    failed_with(
        &tessera(
            dir.path(),
            &["keys", "copy", "--to", "database"],
            &[("TESSERA_DATABASE_URL", &url)],
        ),
        &["TESSERA_KEYS_PASSPHRASE"],
    );
    failed_with(
        &tessera(
            dir.path(),
            &["config", "check"],
            &[("TESSERA_KEYS_STORE", "database")],
        ),
        &["TESSERA_KEYS_STORE", "TESSERA_KEYS_PASSPHRASE"],
    );

    let copied = run(&["keys", "copy", "--to", "database"], db);
    assert!(
        copied.contains("copied 3 key(s) from the key folder ./keys to the database key store"),
        "{copied}"
    );
    assert_eq!(list(&db_store), folder_keys, "same keys, same schedule");

    // An instance on the database store, with an empty key folder of its own, serves them.
    let served = serve_with(
        dir.path(),
        &[db_store.as_slice(), &[("TESSERA_KEYS_DIR", "elsewhere")]].concat(),
    );
    let jwks: Value = reqwest::get(format!("http://{}/jwks.json", served.address))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut served_kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    let mut stored_kids: Vec<&str> = folder_keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    served_kids.sort_unstable();
    stored_kids.sort_unstable();
    assert_eq!(served_kids, stored_kids);
    served.stop().await;
    assert!(
        !dir.path().join("elsewhere").exists(),
        "nothing written to disk"
    );

    // Rotated in the database, the database holds a key the folder lacks: copying the folder
    // over it again is refused, copying back brings the folder up to date.
    run(&["keys", "rotate", "--alg", "RS256"], &db_store);
    assert_eq!(list(&db_store).as_array().unwrap().len(), 4);
    failed_with(
        &tessera(dir.path(), &["keys", "copy", "--to", "database"], db),
        &["holds keys the source does not have", "would drop"],
    );
    assert_eq!(
        list(&db_store).as_array().unwrap().len(),
        4,
        "nothing written"
    );
    let back = run(&["keys", "copy", "--to", "folder"], db);
    assert!(back.contains("copied 4 key(s)"), "{back}");
    assert_eq!(
        list(&[("TESSERA_KEYS_PASSPHRASE", "a passphrase")]),
        list(&db_store)
    );
}

/// A running `tessera serve` on 127.0.0.1:0 with JSON logs, its stderr lines, and its address.
pub(crate) struct Served {
    pub(crate) child: std::process::Child,
    lines: mpsc::Receiver<String>,
    pub(crate) address: String,
    /// Non-JSON stderr lines seen before the server listened (e.g. the first-start banner).
    plain: Vec<String>,
}

fn serve(dir: &Path) -> Served {
    serve_with(dir, &[])
}

/// `tessera serve` in `dir` with `env` besides a port of its own and JSON logs.
pub(crate) fn serve_with(dir: &Path, env: &[(&str, &str)]) -> Served {
    let mut settings = vec![
        ("TESSERA_LISTEN", "127.0.0.1:0"),
        ("TESSERA_LOG_FORMAT", "json"),
    ];
    settings.extend_from_slice(env);
    let mut child = command(dir, &["serve"], &settings)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut plain = Vec::new();
    let address = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a log line");
        match serde_json::from_str::<Value>(&line) {
            Ok(event) if event["message"] == "tessera listening" => {
                break event["address"].as_str().unwrap().to_owned();
            }
            Ok(_) => {}
            Err(_) => plain.push(line),
        }
    };
    Served {
        child,
        lines,
        address,
        plain,
    }
}

impl Served {
    /// SIGKILL: no shutdown at all.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub(crate) async fn stop(mut self) -> Vec<String> {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(status.success(), "{status:?}");
        self.lines.try_iter().collect()
    }
}

#[tokio::test]
async fn serve_logs_where_it_listens_and_stops_cleanly_on_sigterm() {
    let dir = TempDir::new().unwrap();
    let served = serve(dir.path());
    let live = reqwest::get(format!("http://{}/health/live", served.address))
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let rest = served.stop().await;
    assert!(
        rest.iter().any(|l| l.contains("tessera stopped")),
        "{rest:?}"
    );
}

/// Every request logs one access line through the same writer and format as the other lines
/// (here JSON): its request id as the response echoes it, the route pattern, the path without
/// the query, the status — and nothing of what the query carried.
#[tokio::test]
async fn every_request_logs_one_json_access_line_without_its_query() {
    let dir = TempDir::new().unwrap();
    let served = serve(dir.path());
    let base = format!("http://{}", served.address);
    let http = reqwest::Client::new();
    let jwks = http
        .get(format!("{base}/jwks.json?access_token=SECRET-IN-QUERY"))
        .header("x-request-id", "access-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.status(), 200);
    assert_eq!(jwks.headers()["x-request-id"], "access-test-1");
    let token = http
        .post(format!("{base}/token"))
        .basic_auth("no-such-client", Some("SECRET-IN-BODY"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 401);
    let generated_id = token.headers()["x-request-id"].to_str().unwrap().to_owned();
    let missing = http
        .get(format!("{base}/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let lines = served.stop().await;
    assert!(
        lines.iter().all(|l| !l.contains("SECRET-IN")),
        "nothing of the query or body is logged: {lines:?}"
    );
    let access: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|event| event["target"] == "tessera::access")
        .collect();
    assert_eq!(access.len(), 3, "one line per request: {lines:?}");
    let by_id = |id: &str| {
        access
            .iter()
            .find(|event| event["request.id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}: {access:?}"))
    };
    let first = by_id("access-test-1");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["message"], "request");
    assert_eq!(first["http.method"], "GET");
    assert_eq!(first["http.route"], "/jwks.json");
    assert_eq!(first["http.path"], "/jwks.json");
    assert_eq!(first["http.status"], 200);
    assert!(first["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(first["timestamp"].as_str().unwrap().ends_with('Z'));
    let second = by_id(&generated_id);
    assert_eq!(
        (
            &second["http.method"],
            &second["http.route"],
            &second["http.status"]
        ),
        (
            &Value::from("POST"),
            &Value::from("/token"),
            &Value::from(401)
        )
    );
    let third = access
        .iter()
        .find(|event| event["http.path"] == "/no/such/page")
        .unwrap();
    assert_eq!(third["http.route"], "unmatched");
    assert_eq!(third["http.status"], 404);
    // What the handler logged while serving the refused request carries the same id.
    let refused = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|event| event["message"] == "request refused")
        .unwrap_or_else(|| panic!("the handler's line: {lines:?}"));
    assert_eq!(refused["request.id"], generated_id.as_str(), "{refused}");
    assert_eq!(refused["endpoint"], "token");
}

#[tokio::test]
async fn first_start_prints_working_admin_credentials_once() {
    let dir = TempDir::new().unwrap();
    let served = serve(dir.path());
    let banner = served.plain.join("\n");
    assert!(banner.contains("username: admin"), "{banner}");
    let password = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("password: "))
        .expect("a password line")
        .to_owned();
    // The logged (JSON) stream never carries it.
    let base = format!("http://{}", served.address);
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{base}/login?return_to=%2Fadmin%2Fkeys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"csrf_token\" value=\"";
    let csrf = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let login = http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("return_to", "/admin/keys"),
            ("username", "admin"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(
        http.get(format!("{base}/admin/keys"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let rest = served.stop().await;
    assert!(
        !rest.iter().any(|l| l.contains(&password)),
        "the password is not in the logs"
    );

    // The next start finds an admin and prints nothing.
    let again = serve(dir.path());
    assert!(
        again.plain.iter().all(|l| !l.contains("password")),
        "{:?}",
        again.plain
    );
    again.stop().await;
}

fn ok_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn user_add_hashes_the_password_and_refuses_duplicates_and_weak_passwords() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.path().join("pw"), "correct horse battery\n").unwrap();
    let created = ok_json(&tessera(
        dir.path(),
        &[
            "user",
            "add",
            "alice",
            "--password-file",
            "pw",
            "--admin",
            "--email",
            "a@example.com",
            "--json",
        ],
        &[],
    ));
    assert_eq!(created["username"], "alice");
    assert_eq!(created["admin"], true);
    failed_with(
        &tessera(
            dir.path(),
            &["user", "add", "alice", "--password-file", "pw"],
            &[],
        ),
        &["exists already"],
    );
    std::fs::write(dir.path().join("short"), "abc\n").unwrap();
    failed_with(
        &tessera(
            dir.path(),
            &["user", "add", "bob", "--password-file", "short"],
            &[],
        ),
        &["at least 8 characters"],
    );
    failed_with(
        &tessera(dir.path(), &["user", "add", "bob"], &[]),
        &["--password-file", "--password-stdin"],
    );

    let mut stdin = command(
        dir.path(),
        &["user", "add", "carol", "--password-stdin"],
        &[],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    use std::io::Write;
    stdin
        .stdin
        .take()
        .unwrap()
        .write_all(b"another long password\n")
        .unwrap();
    let output = stdin.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let db = std::fs::read(dir.path().join("data/tessera.db")).unwrap();
    let needle = b"correct horse battery";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "no clear-text password in the database file"
    );
}

#[test]
fn client_commands_create_list_show_rotate_and_delete() {
    let dir = TempDir::new().unwrap();
    let created = ok_json(&tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--name",
            "Billing",
            "--redirect-uri",
            "https://billing.example.com/cb",
            "--redirect-uri",
            "http://127.0.0.1:9000/cb",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--id-token-alg",
            "ES256",
            "--access-token-ttl",
            "300",
            "--json",
        ],
        &[],
    ));
    let id = created["client_id"].as_str().unwrap().to_owned();
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["redirect_uris"].as_array().unwrap().len(), 2);

    let listed = ok_json(&tessera(
        dir.path(),
        &["client", "list", "--search", "BILL", "--json"],
        &[],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        listed[0].get("client_secret").is_none(),
        "secrets are shown once only"
    );
    assert!(
        ok_json(&tessera(
            dir.path(),
            &["client", "list", "--search", "nomatch", "--json"],
            &[]
        ))
        .as_array()
        .unwrap()
        .is_empty()
    );
    let shown = ok_json(&tessera(
        dir.path(),
        &["client", "show", &id, "--json"],
        &[],
    ));
    assert_eq!(shown["client_name"], "Billing");
    assert_eq!(shown["id_token_signed_response_alg"], "ES256");
    assert_eq!(shown["access_token_ttl"], 300);
    assert!(shown.get("refresh_token_ttl").is_none());

    let rotated = ok_json(&tessera(
        dir.path(),
        &["client", "rotate-secret", &id, "--json"],
        &[],
    ));
    assert_ne!(rotated["client_secret"].as_str().unwrap(), first_secret);

    failed_with(
        &tessera(
            dir.path(),
            &[
                "client",
                "create",
                "--redirect-uri",
                "http://billing.example.com/cb",
            ],
            &[],
        ),
        &["invalid_redirect_uri"],
    );
    let public = ok_json(&tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--redirect-uri",
            "http://127.0.0.1/cb",
            "--auth-method",
            "none",
            "--json",
        ],
        &[],
    ));
    assert!(public.get("client_secret").is_none());
    failed_with(
        &tessera(
            dir.path(),
            &[
                "client",
                "rotate-secret",
                public["client_id"].as_str().unwrap(),
            ],
            &[],
        ),
        &["does not authenticate with a secret"],
    );

    let deleted = tessera(dir.path(), &["client", "delete", &id], &[]);
    assert!(deleted.status.success());
    failed_with(
        &tessera(dir.path(), &["client", "show", &id], &[]),
        &["no client"],
    );
    failed_with(
        &tessera(dir.path(), &["client", "delete", &id], &[]),
        &["no client"],
    );
}

#[tokio::test]
async fn a_registration_token_from_the_cli_registers_a_client_over_http() {
    let app = tessera_testkit::TestApp::spawn().await;
    let dir = TempDir::new().unwrap();
    let env = [
        ("TESSERA_DATABASE_URL", app.database_url.as_str()),
        ("TESSERA_ISSUER", app.issuer.as_str()),
    ];
    let created = ok_json(&tessera(
        dir.path(),
        &[
            "registration-token",
            "create",
            "--uses",
            "1",
            "--expires",
            "600",
            "--json",
        ],
        &env,
    ));
    let token = created["initial_access_token"].as_str().unwrap();
    assert_eq!(created["registration_endpoint"], app.url("/register"));

    let body = serde_json::json!({"redirect_uris": ["https://app.example.com/cb"]});
    let register = || {
        app.http
            .post(app.url("/register"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    assert_eq!(register().await.unwrap().status(), 201);
    assert_eq!(register().await.unwrap().status(), 401, "single use");

    let listed = ok_json(&tessera(
        dir.path(),
        &["registration-token", "list", "--json"],
        &env,
    ));
    assert_eq!(listed[0]["uses_remaining"], 0);
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    let revoked = tessera(dir.path(), &["registration-token", "revoke", &id], &env);
    assert!(revoked.status.success(), "{revoked:?}");
    failed_with(
        &tessera(dir.path(), &["registration-token", "revoke", &id], &env),
        &["no active"],
    );
}

#[test]
fn trusted_issuers_are_managed_from_the_command_line() {
    let dir = TempDir::new().unwrap();
    let created = tessera(
        dir.path(),
        &[
            "client",
            "create",
            "--grant-type",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "--scope",
            "api.read",
            "--json",
        ],
        &[],
    );
    assert!(created.status.success(), "{created:?}");
    let client: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let client_id = client["client_id"].as_str().unwrap();
    let jwks = dir.path().join("idp-jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","use":"sig","kid":"idp-1"}]}"#,
    )
    .unwrap();
    let add = |extra: &[&str]| {
        let mut args = vec![
            "trusted-issuer",
            "add",
            "--issuer",
            "https://idp.example",
            "--alg",
            "ES256",
            "--subject",
            "*",
            "--scope",
            "api.read",
            "--client",
            client_id,
        ];
        args.extend_from_slice(extra);
        tessera(dir.path(), &args, &[])
    };
    let jwks_arg = jwks.to_str().unwrap();
    let added = add(&["--jwks-file", jwks_arg]);
    assert!(added.status.success(), "{added:?}");
    failed_with(&add(&["--jwks-file", jwks_arg]), &["trusted already"]);
    failed_with(&add(&["--jwks-uri", "http://idp.example/jwks"]), &["https"]);
    let listed = tessera(dir.path(), &["trusted-issuer", "list", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["issuer"], "https://idp.example");
    assert_eq!(listed[0]["algs"], serde_json::json!(["ES256"]));
    assert_eq!(listed[0]["clients"], serde_json::json!([client_id]));
    let removed = tessera(
        dir.path(),
        &["trusted-issuer", "remove", "https://idp.example"],
        &[],
    );
    assert!(removed.status.success(), "{removed:?}");
    let listed = tessera(dir.path(), &["trusted-issuer", "list", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

#[tokio::test]
async fn a_clients_bad_requests_are_logged_below_error() {
    let dir = TempDir::new().unwrap();
    let served = serve(dir.path());
    let base = format!("http://{}", served.address);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = "application/x-www-form-urlencoded";
    for (method, path, content_type, body) in [
        ("POST", "/token", form, "grant_type=%zz&a=1&a=2".to_owned()),
        ("POST", "/token", "text/plain", "x".to_owned()),
        (
            "POST",
            "/token",
            form,
            format!("client_id={}", "x".repeat(70_000)),
        ),
        (
            "POST",
            "/register",
            "application/json",
            "{\"redirect_uris\":".to_owned(),
        ),
        ("POST", "/introspect", form, "token=x".to_owned()),
        (
            "GET",
            "/authorize?client_id=nope&response_type=code",
            form,
            String::new(),
        ),
        ("GET", "/userinfo", form, String::new()),
        (
            "POST",
            "/login",
            form,
            "csrf_token=x&username=a&password=b".to_owned(),
        ),
    ] {
        let request = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .header("content-type", content_type)
            .body(body);
        let status = request.send().await.unwrap().status();
        assert!(status.is_client_error(), "{method} {path}: {status}");
    }
    let lines = served.stop().await;
    let errors: Vec<&String> = lines
        .iter()
        .filter(|l| {
            serde_json::from_str::<Value>(l).is_ok_and(|e| {
                e["level"]
                    .as_str()
                    .is_some_and(|lvl| lvl.eq_ignore_ascii_case("error"))
            })
        })
        .collect();
    assert!(
        errors.is_empty(),
        "client errors logged as ERROR: {errors:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("request refused") || l.contains("\"http.status\":400")),
        "the refusals are logged (at info)"
    );
}

#[test]
fn management_commands_keep_their_output_clean_unless_asked_for_logs() {
    let dir = TempDir::new().unwrap();
    // The first command migrates a new database: no migration chatter, no colour codes.
    let quiet = tessera(dir.path(), &["client", "list"], &[]);
    assert!(quiet.status.success(), "{quiet:?}");
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains('\u{1b}'));
    // Asked for, the logs come.
    let other = TempDir::new().unwrap();
    let chatty = tessera(
        other.path(),
        &["client", "list"],
        &[("TESSERA_LOG_LEVEL", "info")],
    );
    assert!(chatty.status.success(), "{chatty:?}");
    assert!(String::from_utf8_lossy(&chatty.stderr).contains("Applying"));
    // --help says what Tessera is.
    let help = tessera(dir.path(), &["--help"], &[]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.starts_with("Tessera, an OAuth 2.0 / OpenID Connect authorization server."),
        "{text}"
    );
}

/// A database of its own and a password file `pw` (correct horse battery) in a folder, for
/// management commands run by the real binary.
struct Fresh {
    dir: TempDir,
    url: String,
}

impl Fresh {
    async fn new() -> Self {
        let dir = TempDir::new().unwrap();
        let url = tessera_storage::testing::fresh_database_url(dir.path()).await;
        std::fs::write(dir.path().join("pw"), "correct horse battery\n").unwrap();
        Self { dir, url }
    }

    /// A store on this database, beside the binary (its own connection, as another process).
    async fn store(&self) -> tessera_storage::SeaStore {
        tessera_storage::SeaStore::new(tessera_storage::connect(&self.url).await.unwrap())
    }

    /// `tessera ARGS` on this database, which must succeed: its standard output.
    fn run(&self, args: &[&str]) -> String {
        let output = tessera(
            self.dir.path(),
            args,
            &[("TESSERA_DATABASE_URL", &self.url)],
        );
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

#[tokio::test]
async fn user_second_factor_requires_and_removes_a_users_authenticator_app() {
    use tessera_core::{
        store::{SecondFactorRepo, UserRepo},
        totp::TotpSecret,
    };
    let fresh = Fresh::new().await;
    let (dir, url) = (&fresh.dir, &fresh.url);
    let env: &[(&str, &str)] = &[("TESSERA_DATABASE_URL", url)];
    let run = |args: &[&str]| fresh.run(args);
    run(&["user", "add", "alice", "--password-file", "pw"]);
    let store = fresh.store().await;
    let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
    assert!(!alice.mfa_required);

    assert!(run(&["user", "second-factor", "alice", "--require"]).contains("updated user alice"));
    assert!(
        store
            .find_user(&alice.id)
            .await
            .unwrap()
            .unwrap()
            .mfa_required
    );
    assert!(
        run(&["user", "second-factor", "alice", "--require"]).contains("was like that already")
    );
    run(&["user", "second-factor", "alice", "--no-require"]);
    assert!(
        !store
            .find_user(&alice.id)
            .await
            .unwrap()
            .unwrap()
            .mfa_required
    );

    // A confirmed app, removed (a lost phone): the app and its recovery codes are gone.
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    store
        .begin_totp(&alice.id, &TotpSecret::generate(), now)
        .await
        .unwrap();
    let codes = [tessera_core::totp::recovery_hash("aaaaa-bbbbb")];
    store.confirm_totp(&alice.id, 1, &codes, now).await.unwrap();
    assert!(run(&["user", "second-factor", "alice", "--remove"]).contains("updated user alice"));
    assert!(store.find_totp(&alice.id).await.unwrap().is_none());
    assert_eq!(store.unused_recovery_codes(&alice.id).await.unwrap(), 0);
    // Exactly one of the three is asked for.
    let usage = tessera(dir.path(), &["user", "second-factor", "alice"], env);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
    let both = tessera(
        dir.path(),
        &["user", "second-factor", "alice", "--require", "--remove"],
        env,
    );
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    let events = tessera_core::store::AuditRepo::recent_events(&store, None, None, 20)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"user.mfa_required_changed") && kinds.contains(&"second_factor.removed"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn user_show_prints_the_profile_the_factors_and_the_passkeys() {
    use tessera_core::{
        store::{PasskeyRecord, PasskeyRepo, SecondFactorRepo, UserRepo},
        totp::{TotpSecret, recovery_hash},
    };
    let fresh = Fresh::new().await;
    let (dir, url) = (&fresh.dir, &fresh.url);
    let env: &[(&str, &str)] = &[("TESSERA_DATABASE_URL", url)];
    let run = |args: &[&str]| fresh.run(args);
    let add = [
        "user",
        "add",
        "Jane Doe",
        "--password-file",
        "pw",
        "--email",
        "jane@example.com",
    ];
    run(&add);
    let store = fresh.store().await;
    let jane = store
        .find_user_by_username("Jane Doe")
        .await
        .unwrap()
        .unwrap();
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    store
        .begin_totp(&jane.id, &TotpSecret::generate(), now)
        .await
        .unwrap();
    let codes = [recovery_hash("aaaaa-bbbbb"), recovery_hash("ccccc-ddddd")];
    store.confirm_totp(&jane.id, 1, &codes, now).await.unwrap();
    let passkey = PasskeyRecord {
        credential_id: "Y3JlZA".into(),
        user_id: jane.id.clone(),
        user_handle: "aGFuZGxl".into(),
        name: "Work laptop".into(),
        public_key: "cGs".into(),
        counters: "AAAAAAAAAA".into(),
        synced: true,
        created_at: now,
        last_used_at: None,
    };
    store.add_passkey(&passkey).await.unwrap();

    let shown: Value = serde_json::from_str(&run(&["user", "show", "Jane Doe", "--json"])).unwrap();
    assert_eq!(shown["sub"], jane.id.as_str());
    assert_eq!(shown["email"], "jane@example.com");
    assert_eq!(shown["email_verified"], false);
    assert_eq!(shown["enabled"], true);
    assert_eq!(shown["authenticator_app"], true);
    assert_eq!(shown["recovery_codes_left"], 2);
    assert_eq!(shown["passkeys"][0]["name"], "Work laptop");
    assert_eq!(shown["passkeys"][0]["synced"], true);
    // By subject id too, and in words.
    let text = run(&["user", "show", jane.id.as_str()]);
    assert!(text.contains("username:          Jane Doe"), "{text}");
    assert!(
        text.contains("authenticator app: yes (2 recovery codes left)"),
        "{text}"
    );
    assert!(text.contains("passkeys:          1"), "{text}");
    assert!(text.contains("  Work laptop (synced, added "), "{text}");
    assert!(!text.contains('\u{1b}'), "no ANSI colours into a pipe");
    let missing = tessera(dir.path(), &["user", "show", "nobody"], env);
    failed_with(&missing, &["no user nobody"]);
}

#[tokio::test]
async fn user_update_and_unlock_and_shell_completions_from_the_real_binary() {
    use std::sync::Arc;
    use tessera_core::{
        sign_in::{SignInThrottle, ThrottlePolicy},
        store::ThrottleRepo,
    };
    let fresh = Fresh::new().await;
    let (dir, url) = (&fresh.dir, &fresh.url);
    let env: &[(&str, &str)] = &[("TESSERA_DATABASE_URL", url)];
    let run = |args: &[&str]| fresh.run(args);
    run(&[
        "user",
        "add",
        "alice",
        "--password-file",
        "pw",
        "--email",
        "alice@example.com",
    ]);

    // A new address is unconfirmed; --email-verified vouches for it; the name is kept.
    let json = |text: String| serde_json::from_str::<Value>(&text).unwrap();
    let updated = json(run(&[
        "user",
        "update",
        "alice",
        "--name",
        "Alice Liddell",
        "--email",
        "alice@new.example",
        "--json",
    ]));
    assert_eq!(updated["name"], "Alice Liddell");
    assert_eq!(updated["email"], "alice@new.example");
    assert_eq!(updated["email_verified"], false);
    let vouched = json(run(&[
        "user",
        "update",
        "alice",
        "--email-verified",
        "--json",
    ]));
    assert_eq!(vouched["email_verified"], true);
    assert_eq!(vouched["name"], "Alice Liddell");
    let refused = tessera(
        dir.path(),
        &["user", "update", "alice", "--email", "alice@localhost"],
        env,
    );
    failed_with(&refused, &["does not look like an email address"]);

    // Failed sign-ins counted for alice's account, and someone else's: unlock clears hers only.
    let store = Arc::new(tessera_storage::SeaStore::new(
        tessera_storage::connect(url).await.unwrap(),
    ));
    let throttle = SignInThrottle::new(store.clone(), ThrottlePolicy::default());
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    for _ in 0..3 {
        throttle.admit("alice", "192.0.2.1", now).await.unwrap();
        throttle.admit("bob", "192.0.2.1", now).await.unwrap();
    }
    let counters = |store: Arc<tessera_storage::SeaStore>| async move {
        let mut kinds: Vec<String> = store
            .list_counters(now, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|c| format!("{} {}", c.kind, c.label))
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        counters(store.clone()).await.len(),
        5,
        "2 + 2 accounts, 1 address"
    );
    assert!(run(&["user", "unlock", "alice"]).contains("cleared 2 sign-in counter(s) of alice"));
    assert_eq!(
        counters(store.clone()).await,
        [
            "account bob",
            "account_address bob from 192.0.2.1",
            "address 192.0.2.1"
        ]
    );
    assert!(run(&["user", "unlock", "alice"]).contains("no sign-in counter is kept for alice"));

    // Completions need no working configuration.
    let completions = tessera(
        dir.path(),
        &["completions", "bash"],
        &[("TESSERA_ISSUER", "not a url")],
    );
    assert!(completions.status.success(), "{completions:?}");
    let script = String::from_utf8_lossy(&completions.stdout);
    assert!(
        script.contains("_tessera()") && script.contains("unlock"),
        "{script}"
    );
}

#[tokio::test]
async fn user_delete_session_sign_out_and_audit_list_and_export_from_the_real_binary() {
    use tessera_core::store::{BrowserSessionRecord, SessionRepo, UserRepo};
    let fresh = Fresh::new().await;
    let (dir, url) = (&fresh.dir, &fresh.url);
    let env: &[(&str, &str)] = &[("TESSERA_DATABASE_URL", url)];
    let run = |args: &[&str]| fresh.run(args);
    run(&["user", "add", "root", "--password-file", "pw", "--admin"]);
    run(&["user", "add", "bob", "--password-file", "pw"]);
    let store = fresh.store().await;
    let bob = store.find_user_by_username("bob").await.unwrap().unwrap();
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    // Bob signed in on two devices.
    for device in ["phone", "laptop"] {
        store
            .create_session(&BrowserSessionRecord {
                user_agent: Some(format!("Bob's {device}")),
                ip: Some("192.0.2.7".into()),
                ..session_record(device, &bob.id, now)
            })
            .await
            .unwrap();
    }

    // Who is signed in; one device signed out by the id the list shows.
    let listed: Value = serde_json::from_str(&run(&["session", "list", "--json"])).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["username"] == "bob"));
    let text = run(&["session", "list", "--user", "bob"]);
    assert!(
        text.contains("Bob's phone") && text.contains("192.0.2.7"),
        "{text}"
    );
    let phone = tessera_core::secret::TokenHash::of("phone");
    let id = &phone.as_str()[..16];
    failed_with(
        &tessera(dir.path(), &["session", "sign-out", &id[..8]], env),
        &["at least 12 characters"],
    );
    assert!(run(&["session", "sign-out", id]).contains("signed out session"));
    let left = store.list_user_sessions(&bob.id, now).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].user_agent.as_deref(), Some("Bob's laptop"));

    // Deleting bob; the last admin can not be deleted.
    assert!(run(&["user", "delete", "bob"]).contains("deleted user bob"));
    assert!(store.find_user(&bob.id).await.unwrap().is_none());
    assert!(
        store
            .list_user_sessions(&bob.id, now)
            .await
            .unwrap()
            .is_empty()
    );
    failed_with(
        &tessera(dir.path(), &["user", "delete", "bob"], env),
        &["no user bob"],
    );
    failed_with(
        &tessera(dir.path(), &["user", "delete", "root"], env),
        &["last enabled admin"],
    );

    // The audit log: filtered by kind, by the deleted user's id, exported whole.
    let deleted: Value =
        serde_json::from_str(&run(&["audit", "list", "--kind", "user.deleted", "--json"])).unwrap();
    let events = deleted["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["details"]["username"], "bob");
    assert_eq!(events[0]["actor"], "cli");
    let about_bob = run(&["audit", "list", "--user", bob.id.as_str()]);
    assert_eq!(
        about_bob.lines().count(),
        1 + 3,
        "header, created, session revoked, deleted: {about_bob}"
    );
    // A page of one, then the next by the cursor it printed.
    let first: Value =
        serde_json::from_str(&run(&["audit", "list", "--limit", "1", "--json"])).unwrap();
    let next = first["next"].as_str().unwrap().to_owned();
    let second: Value = serde_json::from_str(&run(&[
        "audit", "list", "--limit", "1", "--after", &next, "--json",
    ]))
    .unwrap();
    assert_ne!(first["events"][0]["id"], second["events"][0]["id"]);
    failed_with(
        &tessera(dir.path(), &["audit", "list", "--kind", "nonsense"], env),
        &["no event kind is named \"nonsense\""],
    );
    failed_with(
        &tessera(dir.path(), &["audit", "list", "--from", "yesterday"], env),
        &["--from date is not written YYYY-MM-DD"],
    );
    let csv = run(&["audit", "export"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("occurred_at,kind,actor,client_id,user_id,ip,user_agent,details")
    );
    assert_eq!(
        lines.count(),
        4,
        "two users created, a sign-out, a deletion: {csv}"
    );
    let jsonl = run(&[
        "audit",
        "export",
        "--format",
        "jsonl",
        "--kind",
        "user.created",
    ]);
    let kinds: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kinds, ["user.created", "user.created"]);
}

/// Stable JSON for a snapshot: ids, secrets and times replaced by what they are.
fn stable(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let fixed = match (key.as_str(), &value) {
                        (_, Value::Null) => value,
                        (
                            "sub"
                            | "id"
                            | "user_id"
                            | "client_id"
                            | "kid"
                            | "client_secret"
                            | "token"
                            | "registration_access_token",
                            _,
                        ) => Value::String(format!("[{key}]")),
                        (k, _)
                            if k.ends_with("_at") && k != "client_secret_expires_at"
                                || ["auth_time", "since", "next"].contains(&k) =>
                        {
                            Value::String("[time]".into())
                        }
                        _ => stable(value),
                    };
                    (key, fixed)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(stable).collect()),
        other => other,
    }
}

#[tokio::test]
async fn the_json_of_the_read_commands_is_snapshot_tested() {
    let fresh = Fresh::new().await;
    let run = |args: &[&str]| -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        stable(serde_json::from_str(&fresh.run(&all)).unwrap())
    };
    insta::assert_json_snapshot!(
        "user_add",
        run(&[
            "user",
            "add",
            "alice",
            "--password-file",
            "pw",
            "--email",
            "alice@example.com",
            "--name",
            "Alice"
        ])
    );
    insta::assert_json_snapshot!("user_list", run(&["user", "list"]));
    insta::assert_json_snapshot!("user_show", run(&["user", "show", "alice"]));
    insta::assert_json_snapshot!(
        "user_update",
        run(&["user", "update", "alice", "--name", "Alice Liddell"])
    );
    let created: Value = serde_json::from_str(&fresh.run(&[
        "client",
        "create",
        "--name",
        "Web app",
        "--redirect-uri",
        "https://app.example/cb",
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--json",
    ]))
    .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    insta::assert_json_snapshot!("client_create", stable(created));
    insta::assert_json_snapshot!("client_list", run(&["client", "list"]));
    insta::assert_json_snapshot!("client_show", run(&["client", "show", &client_id]));
    fresh.run(&[
        "scope",
        "add",
        "api.read",
        "--description",
        "Read your data",
        "--client-credentials",
    ]);
    {
        use tessera_core::store::{BrowserSessionRecord, SessionRepo, UserRepo};
        let store = fresh.store().await;
        let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
        let now = tessera_core::Clock::now(&tessera_core::SystemClock);
        store
            .create_session(&BrowserSessionRecord {
                user_agent: Some("Firefox".into()),
                ip: Some("192.0.2.7".into()),
                amr: tessera_core::amr::Amr::password_and_otp(),
                ..session_record("a cookie", &alice.id, now)
            })
            .await
            .unwrap();
    }
    insta::assert_json_snapshot!("session_list", run(&["session", "list"]));
    insta::assert_json_snapshot!("sign_in_locks_list", run(&["sign-in-locks", "list"]));
    insta::assert_json_snapshot!("scope_list", run(&["scope", "list"]));
    fresh.run(&[
        "registration-token",
        "create",
        "--uses",
        "3",
        "--expires",
        "3600",
        "--description",
        "partner portal",
    ]);
    insta::assert_json_snapshot!(
        "registration_token_list",
        run(&["registration-token", "list"])
    );
    fresh.run(&[
        "resource-server",
        "add",
        "https://api.example/photos",
        "--name",
        "Photos",
        "--scopes",
        "api.read",
    ]);
    insta::assert_json_snapshot!("resource_server_list", run(&["resource-server", "list"]));
    {
        use tessera_core::store::{ConsentRepo, GrantRecord, GrantRepo, UserRepo};
        let store = fresh.store().await;
        let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
        let now = tessera_core::Clock::now(&tessera_core::SystemClock);
        let client = tessera_core::ClientId::new(client_id.as_str());
        let scopes = ["openid".to_owned(), "profile".to_owned()];
        store
            .save_consent(&alice.id, &client, &scopes, now)
            .await
            .unwrap();
        store
            .create_grant(&GrantRecord {
                scopes: scopes.to_vec(),
                offline: true,
                ..grant_record("grant-1", &client, &alice.id, now)
            })
            .await
            .unwrap();
    }
    insta::assert_json_snapshot!("client_grants", run(&["client", "grants", &client_id]));
    insta::assert_json_snapshot!("user_apps", run(&["user", "apps", "alice"]));
    insta::assert_json_snapshot!("audit_list", run(&["audit", "list", "--limit", "3"]));
}

#[tokio::test]
async fn client_update_grants_revoke_grant_and_a_users_apps_from_the_real_binary() {
    use tessera_core::store::{ClientRepo, ConsentRepo, GrantRepo, UserRepo};
    let fresh = Fresh::new().await;
    let (dir, url) = (&fresh.dir, &fresh.url);
    let env: &[(&str, &str)] = &[("TESSERA_DATABASE_URL", url)];
    let run = |args: &[&str]| fresh.run(args);
    run(&["user", "add", "alice", "--password-file", "pw"]);
    let created: Value = serde_json::from_str(&run(&[
        "client",
        "create",
        "--name",
        "Shop",
        "--redirect-uri",
        "https://shop.example/cb",
        "--json",
    ]))
    .unwrap();
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"]),
        "the console's form's default grants"
    );

    // What is given replaces; what is not is kept.
    let updated: Value = serde_json::from_str(&run(&[
        "client",
        "update",
        &id,
        "--name",
        "Shop (new)",
        "--redirect-uri",
        "https://shop.example/callback",
        "--redirect-uri",
        "https://shop.example/cb2",
        "--access-token-ttl",
        "600",
        "--require-par",
        "true",
        "--json",
    ]))
    .unwrap();
    assert_eq!(updated["client_name"], "Shop (new)");
    assert_eq!(
        updated["redirect_uris"],
        serde_json::json!(["https://shop.example/callback", "https://shop.example/cb2"])
    );
    assert_eq!(updated["require_pushed_authorization_requests"], true);
    assert_eq!(updated["token_endpoint_auth_method"], "client_secret_basic");
    let store = fresh.store().await;
    let client_id = tessera_core::ClientId::new(id.as_str());
    let stored = store.find_client(&client_id).await.unwrap().unwrap();
    assert_eq!(stored.access_token_ttl, Some(600));
    assert!(stored.secret_hash.is_some(), "the secret is kept");
    // A refused change names the rule and changes nothing.
    failed_with(
        &tessera(
            dir.path(),
            &[
                "client",
                "update",
                &id,
                "--redirect-uri",
                "https://shop.example/cb#x",
            ],
            env,
        ),
        &["invalid_redirect_uri"],
    );
    failed_with(
        &tessera(
            dir.path(),
            &["client", "update", &id, "--access-token-ttl", "0"],
            env,
        ),
        &["access_token_ttl"],
    );
    assert_eq!(
        store
            .find_client(&client_id)
            .await
            .unwrap()
            .unwrap()
            .access_token_ttl,
        Some(600)
    );
    // Public, then back to a secret: the new secret is printed once.
    run(&["client", "update", &id, "--auth-method", "none"]);
    assert!(
        store
            .find_client(&client_id)
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .is_none()
    );
    let back = run(&[
        "client",
        "update",
        &id,
        "--auth-method",
        "client_secret_post",
    ]);
    assert!(back.contains("client_secret: "), "{back}");
    let shown = back
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    let hash = store
        .find_client(&client_id)
        .await
        .unwrap()
        .unwrap()
        .secret_hash
        .unwrap();
    assert_eq!(hash, tessera_core::secret::TokenHash::of(&shown));

    // Alice allowed the shop; it holds two grants of hers.
    let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
    let now = tessera_core::Clock::now(&tessera_core::SystemClock);
    store
        .save_consent(&alice.id, &client_id, &["openid".to_owned()], now)
        .await
        .unwrap();
    for (n, at) in [(1, now - chrono::Duration::minutes(5)), (2, now)] {
        store
            .create_grant(&grant_record(
                &format!("grant-{n}"),
                &client_id,
                &alice.id,
                at,
            ))
            .await
            .unwrap();
    }
    let listed: Value = serde_json::from_str(&run(&[
        "client", "grants", &id, "--user", "alice", "--json",
    ]))
    .unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["grant-2", "grant-1"], "newest first");
    assert_eq!(listed[0]["username"], "alice");
    assert!(run(&["client", "revoke-grant", &id, "grant-2"]).contains("revoked grant grant-2"));
    assert!(run(&["client", "grants", &id]).contains("revoked"));
    failed_with(
        &tessera(dir.path(), &["client", "revoke-grant", &id, "grant-9"], env),
        &["has no grant grant-9"],
    );

    // Her grants in force: the revoked one is gone from the list.
    let held: Value = serde_json::from_str(&run(&["user", "grants", "alice", "--json"])).unwrap();
    let held: Vec<&str> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["grant-1"]);

    // Her apps, and taking the shop's access away.
    let apps: Value = serde_json::from_str(&run(&["user", "apps", "alice", "--json"])).unwrap();
    assert_eq!(apps[0]["name"], "Shop (new)");
    let removed = run(&["user", "remove-app", "alice", &id]);
    assert!(removed.contains("1 grant(s) revoked"), "{removed}");
    assert!(
        store
            .list_user_consents(&alice.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .find_grant(&tessera_core::GrantId::new("grant-1"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(run(&["user", "remove-app", "alice", &id]).contains("has not allowed"));
}
