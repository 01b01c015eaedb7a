//! An SMTP server for tests, on loopback: it accepts every message and keeps it, so a test can
//! read what Tessera mailed and follow its links.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a failed unwrap is a failed test"
)]

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// A minimal SMTP server that accepts every message and keeps it.
#[derive(Debug)]
pub struct SmtpSink {
    /// Its port on 127.0.0.1.
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpSink {
    /// Starts one on a free port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&messages);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 sink ESMTP\r\n").await.ok();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250 sink\r\n",
                            "DATA" => {
                                write.write_all(b"354 go on\r\n").await.ok();
                                let mut message = String::new();
                                while let Ok(Some(line)) = lines.next_line().await {
                                    if line == "." {
                                        break;
                                    }
                                    message.push_str(&line);
                                    message.push('\n');
                                }
                                kept.lock().unwrap().push(message);
                                b"250 kept\r\n"
                            }
                            "QUIT" => {
                                write.write_all(b"221 bye\r\n").await.ok();
                                break;
                            }
                            _ => b"250 OK\r\n",
                        };
                        write.write_all(reply).await.ok();
                    }
                });
            }
        });
        Self { port, messages }
    }

    /// Messages received so far.
    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }

    /// The `n`th message, waiting up to 10 s for it.
    pub async fn message(&self, n: usize) -> String {
        for _ in 0..200 {
            if let Some(message) = self.messages.lock().unwrap().get(n) {
                return message.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no message {n} arrived");
    }
}

/// The message's body as a mail client shows it: quoted-printable decoded (soft line breaks
/// joined, `=XX` as the byte).
pub fn decoded(message: &str) -> String {
    let joined = message.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
