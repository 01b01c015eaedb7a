//! A stand-in relying party on its own loopback port — another origin than Tessera's, as every
//! real client is. It serves a start page whose "Sign in" link is the authorization URL the test
//! gives it, and records every other request that reaches it (the redirect back with a code or
//! an error, the post-logout redirect, a form post), answering each with a small page showing
//! what arrived. A POSTed form's fields are recorded as the query of its arrival, and the method
//! beside it ([`RelyingParty::methods`]).
//!
//! Plain HTTP/1.1 over tokio, one request per connection; it stops when dropped.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    task::JoinHandle,
};
use url::Url;

/// The most bytes of a request head that are read.
const MAX_HEAD: usize = 64 * 1024;

/// A running stand-in relying party.
#[derive(Debug)]
pub struct RelyingParty {
    origin: String,
    start_link: Arc<Mutex<String>>,
    arrivals: Arc<Mutex<Vec<Url>>>,
    methods: Arc<Mutex<Vec<String>>>,
    seen: Mutex<usize>,
    task: JoinHandle<()>,
}

impl Drop for RelyingParty {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl RelyingParty {
    /// Starts on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port can be bound.
    #[expect(clippy::expect_used, reason = "test support")]
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port for the relying party");
        let port = listener.local_addr().expect("bound address").port();
        let origin = format!("http://127.0.0.1:{port}");
        let start_link = Arc::new(Mutex::new(String::new()));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let methods = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(serve(
            listener,
            origin.clone(),
            Arc::clone(&start_link),
            (Arc::clone(&arrivals), Arc::clone(&methods)),
        ));
        Self {
            origin,
            start_link,
            arrivals,
            methods,
            seen: Mutex::new(0),
            task,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A URL of this relying party.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Sets the link the start page (`/`) offers as "Sign in".
    pub fn link_to(&self, target: &str) {
        *self.start_link.lock().unwrap_or_else(|p| p.into_inner()) = target.to_owned();
    }

    /// Every request that reached a path other than `/`, oldest first.
    pub fn arrivals(&self) -> Vec<Url> {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The method of every arrival, in the order of [`RelyingParty::arrivals`].
    pub fn methods(&self) -> Vec<String> {
        self.methods
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits (up to `timeout`) for the next request to `path` that no earlier call returned.
    pub async fn arrival(&self, path: &str, timeout: Duration) -> Option<Url> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                let arrivals = self.arrivals();
                if let Some((index, url)) = arrivals
                    .iter()
                    .enumerate()
                    .skip(*seen)
                    .find(|(_, u)| u.path() == path)
                {
                    *seen = index + 1;
                    return Some(url.clone());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What reached the app: each request's URL (a form's fields as its query) and its method.
type Arrivals = (Arc<Mutex<Vec<Url>>>, Arc<Mutex<Vec<String>>>);

/// The body of a request whose head (and perhaps the start of the body) is `read`: up to its
/// `Content-Length`, at most [`MAX_HEAD`] bytes.
async fn body_of(stream: &mut tokio::net::TcpStream, read: &[u8]) -> Vec<u8> {
    let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Vec::new();
    };
    let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_HEAD);
    let mut body = read[end + 4..].to_vec();
    let mut buffer = [0u8; 4096];
    while body.len() < length {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&buffer[..n]),
        }
    }
    body.truncate(length);
    body
}

async fn serve(
    listener: TcpListener,
    origin: String,
    start_link: Arc<Mutex<String>>,
    (arrivals, methods): Arrivals,
) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let origin = origin.clone();
        let start_link = Arc::clone(&start_link);
        let arrivals = Arc::clone(&arrivals);
        let methods = Arc::clone(&methods);
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buffer = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let body = body_of(&mut stream, &head).await;
            let head = String::from_utf8_lossy(&head);
            let mut request_line = head.lines().next().unwrap_or_default().split(' ');
            let method = request_line.next().unwrap_or("GET").to_owned();
            let mut target = request_line.next().unwrap_or("/").to_owned();
            // A POSTed form: its fields become the query of what is recorded.
            if method == "POST" && !body.is_empty() {
                let fields = String::from_utf8_lossy(&body).into_owned();
                target = format!(
                    "{target}{}{fields}",
                    if target.contains('?') { '&' } else { '?' }
                );
            }
            let body = if target == "/" {
                let link = start_link.lock().unwrap_or_else(|p| p.into_inner()).clone();
                format!(
                    "<!doctype html><title>Example app</title><h1>Example app</h1>\
                     <p><a id=\"sign-in\" href=\"{}\">Sign in with Tessera</a></p>",
                    html_escape(&link)
                )
            } else {
                let mut shown = String::new();
                if let Ok(url) = Url::parse(&format!("{origin}{target}")) {
                    shown = format!(
                        "<p>At <code>{}</code> with:</p><dl>",
                        html_escape(url.path())
                    );
                    for (name, value) in url.query_pairs() {
                        shown.push_str(&format!(
                            "<dt>{}</dt><dd><code>{}</code></dd>",
                            html_escape(&name),
                            html_escape(&value)
                        ));
                    }
                    shown.push_str("</dl>");
                    arrivals.lock().unwrap_or_else(|p| p.into_inner()).push(url);
                    methods
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(method.clone());
                }
                format!(
                    "<!doctype html><title>Example app</title>\
                     <h1 id=\"back\">Back at the app</h1>{shown}"
                )
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
