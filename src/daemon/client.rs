//! The ctrace CLI's side of the API: a few lines of blocking HTTP/1.1 over the unix socket
//! (one connection per request, `Connection: close`), and the hijacked `attach` stream.
//! No async runtime on the client: it would cost more start-up time than the request.
//!
//! Not here: which commands go through the daemon ([`crate::cli::remote`]).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// A response, its body read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// Docker's error message, or the status.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("the daemon answered {}", self.status))
    }
}

/// Whether a daemon answers on `socket`.
pub fn answers(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok()
}

/// A response's status and headers, and the connection positioned at its body.
pub type Head = (u16, Vec<(String, String)>, BufReader<UnixStream>);

/// Sends one request; returns the stream positioned after the response headers.
pub fn send(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> io::Result<Head> {
    let mut stream = UnixStream::connect(socket)?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: ctrace\r\nUser-Agent: ctrace/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    stream.write_all(&bytes)?;
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad HTTP status line"))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers, r))
}

/// Reads a body framed by `Content-Length`, chunked encoding, or the end of the connection.
pub fn read_body(headers: &[(String, String)], r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let mut body = Vec::new();
    if get("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line)? == 0 {
                break;
            }
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = get("content-length").and_then(|n| n.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// One whole request and response.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    let mut h = headers.to_vec();
    h.push(("Connection", "close".into()));
    let (status, headers, mut r) = send(socket, method, path, &h, body)?;
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else {
        read_body(&headers, &mut r)?
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Copies docker's multiplexed stream (8-byte frame headers) to stdout and stderr until the
/// daemon closes it.
pub fn demux(r: &mut impl Read, out: &mut impl Write, err: &mut impl Write) -> io::Result<()> {
    let mut header = [0u8; 8];
    let mut buf = Vec::new();
    loop {
        match r.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        buf.resize(len, 0);
        r.read_exact(&mut buf)?;
        if header[0] == 2 {
            err.write_all(&buf)?;
            err.flush()?;
        } else {
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_and_sized_bodies() {
        let h = vec![("Transfer-Encoding".to_string(), "chunked".to_string())];
        let mut r = io::Cursor::new(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_vec());
        assert_eq!(read_body(&h, &mut r).unwrap(), b"abcde");
        let h = vec![("Content-Length".to_string(), "2".to_string())];
        let mut r = io::Cursor::new(b"hi there".to_vec());
        assert_eq!(read_body(&h, &mut r).unwrap(), b"hi");
    }

    #[test]
    fn demux_splits_streams() {
        let mut data = crate::daemon::api::frame(1, b"out\n");
        data.extend(crate::daemon::api::frame(2, b"err\n"));
        let (mut o, mut e) = (Vec::new(), Vec::new());
        demux(&mut io::Cursor::new(data), &mut o, &mut e).unwrap();
        assert_eq!((o.as_slice(), e.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    }
}
