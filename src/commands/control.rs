//! `splitdns status` and `splitdns reload`: ask the running server through its control listener
//! (`[control] listen` in the config, or `--control ADDR`) and print the answer for a person.
//! `reload` exits 1 with the refusing `file:line` errors when the server kept its previous data,
//! so `systemctl reload` (the unit's `ExecReload`) reports a broken file.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::config;
use crate::control::status::Status;
use crate::reload::ReloadRecord;

/// Longest the commands wait for the server (a reload of large zones can take seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The control address: `--control`, or the config's `[control] listen`.
fn address(control: Option<SocketAddr>, config_path: &Path) -> Result<SocketAddr, String> {
    if let Some(addr) = control {
        return Ok(addr);
    }
    let config = config::load(config_path).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    config.control.ok_or_else(|| {
        format!(
            "{}: no [control] listen: the running server has no control listener to ask (set one, or pass --control ADDR)",
            config_path.display()
        )
    })
}

/// One HTTP/1.1 request; the status and the body.
fn request(addr: SocketAddr, method: Method, path: &str) -> Result<(StatusCode, String), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("cannot reach the control listener at {addr}: {e}"))?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| format!("{addr}: {e}"))?;
            tokio::spawn(connection);
            let request = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, addr.to_string())
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| format!("{addr}: {e}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{addr}: {e}"))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{addr}: no answer within {REQUEST_TIMEOUT:?}"))?
    })
}

pub fn status(control: Option<SocketAddr>, config_path: &Path, json: bool) -> ExitCode {
    let result = address(control, config_path).and_then(|addr| {
        let (code, body) = request(addr, Method::GET, "/status")?;
        if code != StatusCode::OK {
            return Err(format!("{addr}: {code}: {}", body.trim()));
        }
        Ok(body)
    });
    let body = match result {
        Ok(body) => body,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        print!("{body}");
        return ExitCode::SUCCESS;
    }
    match serde_json::from_str::<Status>(&body) {
        Ok(status) => {
            print!("{}", describe(&status));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unexpected /status answer ({e}):\n{body}");
            ExitCode::FAILURE
        }
    }
}

/// The status for a person.
fn describe(status: &Status) -> String {
    let listen: Vec<String> = status.listen.iter().map(ToString::to_string).collect();
    let mut text = format!(
        "splitdns {} up {}s, serving on {} (udp+tcp)\n",
        status.version,
        status.uptime_seconds,
        listen.join(", ")
    );
    for view in &status.views {
        text.push_str(&format!(
            "view {} (clients {}):\n",
            view.name,
            view.clients.join(", ")
        ));
        for zone in &view.zones {
            let files: Vec<String> = zone.files.iter().map(|f| f.display().to_string()).collect();
            match (zone.serial, zone.records) {
                (Some(serial), Some(records)) => text.push_str(&format!(
                    "  {} serial {serial} ({records} records) from {}{}\n",
                    zone.origin,
                    files.join(" + "),
                    if zone.state == "stale" {
                        ": STALE, held back (its files did not load, or the checks found an error); the previous data is served"
                    } else {
                        ""
                    }
                )),
                _ => text.push_str(&format!(
                    "  {} NOT SERVED (SERVFAIL): held back (its files did not load, or the checks found an error)\n",
                    zone.origin
                )),
            }
            for error in &zone.errors {
                text.push_str(&format!("    {error}\n"));
            }
        }
    }
    match &status.last_reload {
        None => text.push_str("no reload since start\n"),
        Some(reload) => {
            text.push_str(&format!(
                "last reload: {} on {}, {} ago, {:.1} ms\n",
                if reload.ok {
                    "ok"
                } else if reload.applied {
                    "PUBLISHED with zones held back"
                } else {
                    "REFUSED, previous data kept"
                },
                reload.trigger,
                human_age(reload.unix_time),
                reload.seconds * 1000.0
            ));
            for error in &reload.errors {
                text.push_str(&format!("  {error}\n"));
            }
        }
    }
    text
}

fn human_age(unix_time: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{}s", now.saturating_sub(unix_time))
}

pub fn reload(control: Option<SocketAddr>, config_path: &Path) -> ExitCode {
    let result = address(control, config_path)
        .and_then(|addr| request(addr, Method::POST, "/reload").map(|r| (addr, r)));
    let (addr, (code, body)) = match result {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let record: ReloadRecord = match serde_json::from_str(&body) {
        Ok(record) => record,
        Err(_) => {
            eprintln!("{addr}: {code}: {}", body.trim());
            return ExitCode::FAILURE;
        }
    };
    if record.ok {
        println!(
            "reloaded in {:.1} ms: {}",
            record.seconds * 1000.0,
            record.serving
        );
        ExitCode::SUCCESS
    } else {
        for error in &record.errors {
            eprintln!("{error}");
        }
        if record.applied {
            eprintln!(
                "reloaded, but {} error(s) held zones back (each keeps its previous data, or is not served): {}",
                record.errors.len(),
                record.serving
            );
        } else {
            eprintln!(
                "reload refused ({} error(s)); still serving the previous data: {}",
                record.errors.len(),
                record.serving
            );
        }
        ExitCode::FAILURE
    }
}
