//! A local HTTP/1.1 server over a folder, for download tests. It counts requests per path and
//! misbehaves on request:
//!
//! - `/status/<code>`: an empty response with that status code;
//! - `/truncate/<file>`: the headers promise the whole file, half the body is sent, then the
//!   connection closes;
//! - `/slow/<file>`: the file, after a 300 ms pause (to make concurrent downloads overlap);
//! - `/stall/<file>`: the headers promise the whole file, half the body is sent, then the
//!   server goes silent for 10 minutes with the connection open (a hung download);
//! - anything else: the file under the root, or 404 (also for folders and `..`).

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// A running server; it stops accepting when dropped (the accept thread is detached).
pub struct HttpServer {
    port: u16,
    counts: Arc<Mutex<HashMap<String, usize>>>,
}

impl HttpServer {
    /// Serves `root` on 127.0.0.1 on a free port.
    pub fn serve(root: &Path) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let root = root.to_path_buf();
        let counts2 = counts.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let root = root.clone();
                let counts = counts2.clone();
                thread::spawn(move || {
                    let _ = handle(stream, &root, &counts);
                });
            }
        });
        HttpServer { port, counts }
    }

    /// `http://127.0.0.1:<port>/<path>` (path without a leading slash).
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            path.trim_start_matches('/')
        )
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many GET requests reached `path` (with a leading slash, e.g. `/image.tar.gz`).
    pub fn requests(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Requests to every path, added up.
    pub fn total_requests(&self) -> usize {
        self.counts.lock().unwrap().values().sum()
    }
}

fn handle(
    stream: TcpStream,
    root: &Path,
    counts: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    *counts.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
    let mut out = stream;
    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(500);
        write!(
            out,
            "HTTP/1.1 {code} Test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    }
    let stall = path.starts_with("/stall/");
    let (file, truncate) = match path
        .strip_prefix("/truncate/")
        .or_else(|| path.strip_prefix("/stall/"))
    {
        Some(rest) => (rest, true),
        None => match path.strip_prefix("/slow/") {
            Some(rest) => {
                thread::sleep(Duration::from_millis(300));
                (rest, false)
            }
            None => (path.trim_start_matches('/'), false),
        },
    };
    let Some(body) = local_file(root, file).and_then(|p| fs::read(p).ok()) else {
        write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    };
    write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    let sent = if truncate {
        &body[..body.len() / 2]
    } else {
        &body[..]
    };
    out.write_all(sent)?;
    out.flush()?;
    if stall {
        thread::sleep(Duration::from_secs(600));
    }
    Ok(())
}

fn local_file(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let path = root.join(rel);
    path.is_file().then_some(path)
}
