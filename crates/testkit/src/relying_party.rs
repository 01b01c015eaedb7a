//! A stand-in relying party on its own loopback port — another origin than Tessera's, as every
//! real client is. It serves a start page whose "Sign in" link is the authorization URL the test
//! gives it, and records every other request that reaches it (the redirect back with a code or
//! an error, the post-logout redirect), answering each with a small page showing what arrived.that shows what arrived.
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
        let task = tokio::spawn(serve(
            listener,
            origin.clone(),
            Arc::clone(&start_link),
            Arc::clone(&arrivals),
        ));
        Self {
            origin,
            start_link,
            arrivals,
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

async fn serve(
    listener: TcpListener,
    origin: String,
    start_link: Arc<Mutex<String>>,
    arrivals: Arc<Mutex<Vec<Url>>>,
) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let origin = origin.clone();
        let start_link = Arc::clone(&start_link);
        let arrivals = Arc::clone(&arrivals);
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buffer = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let target = head
                .lines()
                .next()
                .and_then(|line| line.split(' ').nth(1))
                .unwrap_or("/")
                .to_owned();
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
