//! `splitdns status` and `splitdns reload`: ask the running server through its control listener
//! (`[control] listen` in the config, or `--control ADDR`) and print the answer for a person.
//! `status` is a monitoring check as Nagios, Icinga and their kin run them: one summary line,
//! then detail, and the exit code says OK (0), WARNING (1), CRITICAL (2) or UNKNOWN (3).
//! `reload` prints the outcome in the words of [`crate::reload::ReloadOutcome`] and exits 1 with
//! the `file:line` errors unless it is ok (partial or refused), so `systemctl reload` (the unit's
//! `ExecReload`) reports a broken file.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::config;
use crate::control::status::{
    CheckedAddress, CheckedName, Status, Verdict, ZoneState, assess, duration,
};
use crate::reload::{ReloadOutcome, ReloadRecord};

/// Longest the commands wait for the server (a reload of large zones can take seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The control address: `--control`, or the config's `[control] listen`.
fn address(control: Option<SocketAddr>, config_path: &Path) -> Result<SocketAddr, String> {
    if let Some(addr) = control {
        return Ok(addr);
    }
    let control = config::control_address(config_path).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    control.ok_or_else(|| {
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

/// The monitoring plugins' UNKNOWN: the server could not be asked.
const UNKNOWN: u8 = 3;

/// `splitdns status`: a monitoring check. Exits as monitoring plugins do (0 OK, 1 WARNING,
/// 2 CRITICAL, 3 UNKNOWN when the server cannot be asked) and prints one summary line first,
/// then the problems, then what is served; with `--json`, the server's answer as it is (exit
/// code the same).
pub fn status(control: Option<SocketAddr>, config_path: &Path, json: bool) -> ExitCode {
    let result = address(control, config_path).and_then(|addr| {
        let (code, body) = request(addr, Method::GET, "/status")?;
        if code != StatusCode::OK {
            return Err(format!("{addr}: {code}: {}", body.trim()));
        }
        let status = serde_json::from_str::<Status>(&body)
            .map_err(|e| format!("{addr}: unexpected /status answer ({e})"))?;
        Ok((body, status))
    });
    let (body, status) = match result {
        Ok(answer) => answer,
        Err(e) if json => {
            eprintln!("{e}");
            return ExitCode::from(UNKNOWN);
        }
        Err(e) => {
            // Monitoring reads the first line of standard output.
            println!("SPLITDNS UNKNOWN - {e}");
            return ExitCode::from(UNKNOWN);
        }
    };
    // Judged here, not taken from the answer: an older server sends no verdict.
    let verdict = assess(&status);
    if json {
        print!("{body}");
    } else {
        print!("{}", describe(&status, &verdict));
    }
    ExitCode::from(verdict.code)
}

/// The status for a person: the verdict's summary line and problems, then what is served.
fn describe(status: &Status, verdict: &Verdict) -> String {
    let mut text = format!("{}\n", verdict.summary);
    for problem in &verdict.problems {
        text.push_str(&format!("  {}: {}\n", problem.severity, problem.message));
    }
    let listen: Vec<String> = status.listen.iter().map(ToString::to_string).collect();
    text.push_str(&format!(
        "splitdns {} up {}, serving on {} (udp+tcp)\n",
        status.version,
        duration(status.uptime_seconds),
        listen.join(", ")
    ));
    for view in &status.views {
        text.push_str(&format!(
            "view {} (clients {}):\n",
            view.name,
            view.clients.join(", ")
        ));
        for zone in &view.zones {
            let files: Vec<String> = zone.files.iter().map(|f| f.display().to_string()).collect();
            match (zone.serial, zone.records) {
                (Some(serial), Some(records)) => {
                    let file_serial = match zone.file_serial {
                        Some(file) if file != serial => {
                            format!(", raised above the file's serial {file}")
                        }
                        _ => String::new(),
                    };
                    // An ok copy goes without saying; the others say their state's phrase.
                    let state = match ZoneState::from_word(&zone.state) {
                        Some(ZoneState::Ok) => String::new(),
                        Some(state) => format!(": {}", state.phrase()),
                        None => format!(": {}", zone.state),
                    };
                    let signed = zone.signatures_expire.map_or(String::new(), |expire| {
                        format!(", signed until {}", crate::dns::time::utc(expire))
                    });
                    text.push_str(&format!(
                        "  {} serial {serial} ({records} records){file_serial}{signed} from {}{state}\n",
                        zone.origin,
                        files.join(" + "),
                    ))
                }
                _ => text.push_str(&format!(
                    "  {}: {}\n",
                    zone.origin,
                    ZoneState::from_word(&zone.state).map_or(zone.state.as_str(), |s| s.phrase())
                )),
            }
            for error in &zone.errors {
                text.push_str(&format!("    {error}\n"));
            }
        }
    }
    describe_health(status, &mut text);
    describe_dane(status, &mut text);
    match &status.last_reload {
        None => text.push_str("no reload since start\n"),
        Some(reload) => {
            text.push_str(&format!(
                "last reload: {} (on {}, {} ago, {:.1} ms)\n",
                reload.outcome(),
                reload.trigger,
                human_age(reload.unix_time),
                reload.seconds * 1000.0
            ));
            for error in &reload.errors {
                text.push_str(&format!("  {error}\n"));
            }
            for finding in &reload.findings {
                text.push_str(&format!("  {finding}\n"));
            }
        }
    }
    text
}

/// The health checks: each checked name, what it answers, and its addresses by site; then the
/// latest events.
fn describe_health(status: &Status, text: &mut String) {
    if status.checked_names.is_empty() {
        return;
    }
    text.push_str("health checks:\n");
    // Names a view checks on the same addresses (the namespace and autodiscover) read as one.
    let addresses_of = |name: &CheckedName| -> Vec<&CheckedAddress> {
        status
            .health_checks
            .iter()
            .filter(|c| c.name == name.name && c.view == name.view && c.rtype == name.rtype)
            .collect()
    };
    let same = |a: &CheckedName, b: &CheckedName| {
        let key = |c: &&CheckedAddress| (c.address, c.port, c.check.clone(), c.site.clone());
        (&a.view, &a.rtype, &a.state, &a.answering_site, a.since / 10)
            == (&b.view, &b.rtype, &b.state, &b.answering_site, b.since / 10)
            && addresses_of(a)
                .iter()
                .map(key)
                .eq(addresses_of(b).iter().map(key))
    };
    let mut groups: Vec<Vec<&CheckedName>> = Vec::new();
    for name in &status.checked_names {
        match groups.iter_mut().find(|group| same(group[0], name)) {
            Some(group) => group.push(name),
            None => groups.push(vec![name]),
        }
    }
    for group in groups {
        let name = group[0];
        let what = match name.state.as_str() {
            "ok" if name.preferred_site.is_empty() => "answering its up addresses".to_string(),
            "ok" => format!("answering site {} (preferred)", name.preferred_site),
            "failed-over" => format!(
                "FAILED OVER: site {} down, answering site {}",
                name.preferred_site, name.answering_site
            ),
            "failing-open" => "FAILING OPEN: every address down, answering all of them".to_string(),
            "servfail" => "ALL DOWN: answering SERVFAIL".to_string(),
            other => other.to_string(),
        };
        let names: Vec<&str> = group.iter().map(|n| n.name.as_str()).collect();
        text.push_str(&format!(
            "  {} {} in view {}: {what} (since {} ago)\n",
            names.join(", "),
            name.rtype,
            name.view,
            human_age(name.since)
        ));
        for check in addresses_of(name) {
            let site = if check.site.is_empty() {
                String::new()
            } else {
                format!("site {} ", check.site)
            };
            let state = match (check.state.as_str(), check.answered) {
                ("down", false) => "DOWN, left out",
                ("down", true) => "DOWN, answered (failing open)",
                (_, false) => "up, standby (another site is answered)",
                ("unchecked", true) => "not checked yet, answered",
                (_, true) => "up, answered",
            };
            let expiry = match (&check.certificate_expires, check.certificate_expiring) {
                (Some(date), true) => format!(", CERTIFICATE EXPIRES {date}"),
                _ => String::new(),
            };
            text.push_str(&format!(
                "    {site}{}: {state}: {} (since {} ago){expiry}\n",
                SocketAddr::new(check.address, check.port),
                check.reason,
                human_age(check.since)
            ));
        }
    }
    if !status.health_events.is_empty() {
        text.push_str("health events:\n");
        for event in &status.health_events {
            text.push_str(&format!(
                "  {} ago {}: {}\n",
                human_age(event.unix_time),
                event.severity,
                event.message
            ));
        }
    }
}

/// The DANE checks: each TLSA RRset at each address, and on a mismatch what is presented.
fn describe_dane(status: &Status, text: &mut String) {
    if status.dane_checks.is_empty() {
        return;
    }
    text.push_str("dane checks:\n");
    for check in &status.dane_checks {
        let how = if check.starttls == "smtp" {
            " (STARTTLS)"
        } else {
            ""
        };
        let state = match check.state.as_str() {
            "match" => "ok",
            "mismatch" => "MISMATCH",
            "no-usable-record" => "NO USABLE RECORD",
            "failed" => "NOT CHECKED",
            other => other,
        };
        text.push_str(&format!(
            "  {} in view {} at {}{how}: {state}: {} (since {} ago)\n",
            check.name,
            check.view,
            SocketAddr::new(check.address, check.port),
            check.reason,
            human_age(check.since)
        ));
        if check.state != "match" && !check.presented.is_empty() {
            text.push_str(&format!("    presents {}\n", check.presented.join(", ")));
        }
    }
}

fn human_age(unix_time: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    duration(now.saturating_sub(unix_time))
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
    // `reload: <the outcome's phrase> (<time>[, n errors]): <what is served>`, the words of the
    // log line, `splitdns status` and the metric label.
    let outcome = record.outcome();
    let errors = match record.errors.len() {
        0 => String::new(),
        1 => ", 1 error".to_string(),
        n => format!(", {n} errors"),
    };
    let line = format!(
        "reload: {outcome} ({:.1} ms{errors}): serving {}",
        record.seconds * 1000.0,
        record.serving
    );
    for finding in &record.findings {
        eprintln!("{finding}");
    }
    if outcome == ReloadOutcome::Ok {
        println!("{line}");
        ExitCode::SUCCESS
    } else {
        for error in &record.errors {
            eprintln!("{error}");
        }
        eprintln!("{line}");
        ExitCode::FAILURE
    }
}
