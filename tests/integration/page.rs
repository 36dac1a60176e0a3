//! The status page (`GET /` on the control listener) and `splitdns status` as a
//! monitoring check, judged against the real `splitdns` binary: the page's content and
//! its escaping of values from the config, the exit codes a monitoring system reads for OK,
//! WARNING, CRITICAL and UNKNOWN, and — where Debian's `chromium` is installed — the page
//! rendered by a real browser, headless, into a screenshot. The health tests
//! (`health::status_and_page_follow_failover_and_fail_open`) judge the same with real HTTPS
//! servers behind the checks.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Daemon, free_port, scratch_dir};

/// Upper bound for every wait: start-up, reloads, health checks.
const GENEROUS: Duration = Duration::from_secs(10);
/// Longest the headless browser may take to render the page.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(60);

/// One HTTP/1.1 `GET` with `Connection: close`: the status code, the head and the body.
pub fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the control listener");
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (code, head.to_string(), body.to_string())
}

/// `/status` as JSON.
pub fn status_json(control: SocketAddr) -> serde_json::Value {
    let (code, _, body) = get(control, "/status");
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// `splitdns status [args] --control ADDR`.
pub fn status_command(control: SocketAddr, args: &[&str]) -> Output {
    common::splitdns()
        .arg("status")
        .args(args)
        .arg("--control")
        .arg(control.to_string())
        .output()
        .expect("run splitdns status")
}

/// `splitdns reload --control <control>`.
fn reload_command(control: SocketAddr) -> Output {
    common::splitdns()
        .args(["reload", "--control", &control.to_string()])
        .output()
        .expect("run splitdns reload")
}

/// The page rendered by headless Chromium into `<dir>/<name>.png`, with a fresh profile in
/// `dir`; `None` (and a printed reason) where Chromium is not installed.
pub fn screenshot(url: &str, dir: &Path, name: &str) -> Option<PathBuf> {
    let Some(chromium) = common::find_program("chromium") else {
        println!("not rendered in a browser: chromium is not installed (.ci/run installs it)");
        return None;
    };
    let profile = dir.join(format!("{name}-chromium-profile"));
    let _ = fs::remove_dir_all(&profile);
    let png = dir.join(format!("{name}.png"));
    let _ = fs::remove_file(&png);
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,900")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll chromium") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not render {url} within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium exited {status} rendering {url}");
    Some(png)
}

/// A screenshot is a PNG of the window's size with more than one colour's worth of content.
pub fn assert_real_png(png: &Path) {
    let bytes = fs::read(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        png.display()
    );
    // IHDR: width and height, big-endian, after the signature and the chunk's length and type.
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900), "{}", png.display());
    // A blank 1280×900 page compresses to a few kilobytes; text, tables and colours do not.
    assert!(
        bytes.len() > 30_000,
        "{} is only {} bytes: a blank page?",
        png.display(),
        bytes.len()
    );
}

const SERIAL: u32 = 2026120701;

fn zone(origin: &str, serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 3600\n\
         @    SOA ns1 hostmaster ( {serial} 3600 900 1209600 300 )\n\
         \x20    NS  ns1\n\
         ns1  A   203.0.113.53\n\
         www  A   {www}\n"
    )
}

/// Two views (the internal one with a secondary) and two zones (one named with markup in its
/// file name), an `[[exchange]]` block whose site name is markup too, checked over TCP on two
/// loopback addresses: one listens (`listening` holds it), one does not.
fn start(test: &str, port: u16) -> Daemon {
    let dir = scratch_dir(&format!("page-{test}"));
    let config = format!(
        r#"serial_policy = "bump"

[[view]]
name = "internal"
clients = ["127.0.0.2/32"]
# Secondaries and no state_dir: a check warning every reload finds (the last reload's findings).
transfer = {{ allow = ["127.0.0.9/32"] }}

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
[zone.views]
internal = "internal.zone"

[[zone]]
origin = "fabrikam.example"
file = "fabrikam&<i>.zone"

[[exchange]]
namespace = "mail.contoso.example"
health = {{ kind = "tcp", port = {port}, interval = 0.5, timeout = 0.5, fall = 2, rise = 1 }}
[[exchange.site]]
name = "<b>dc1</b>&co"
internal = ["127.0.0.101", "127.0.0.102"]

[control]
listen = "127.0.0.1:0"
"#
    );
    fs::write(dir.join("splitdns.toml"), config).unwrap();
    fs::write(
        dir.join("contoso.example.zone"),
        zone("contoso.example", SERIAL, "203.0.113.80"),
    )
    .unwrap();
    fs::write(dir.join("internal.zone"), "$ORIGIN contoso.example.\n").unwrap();
    fs::write(
        dir.join("fabrikam&<i>.zone"),
        zone("fabrikam.example", SERIAL, "198.51.100.80"),
    )
    .unwrap();
    Daemon::serve(dir.join("splitdns.toml")).control().start()
}

/// Waits until `/status` satisfies `done`; its last answer.
fn wait_status(
    daemon: &Daemon,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + GENEROUS;
    loop {
        let status = status_json(daemon.control());
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {GENEROUS:?}:\n{status:#}\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Saved by rename, as editors do.
fn write(daemon: &Daemon, file: &str, text: &str) {
    let temporary = daemon.path(&format!(".{file}.tmp"));
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, daemon.path(file)).unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `splitdns status` exits as monitoring plugins do, its first line the summary: OK with every
/// checked address up; WARNING with one down, or a reload that held a zone back (stale copies);
/// CRITICAL once a reload is refused whole; UNKNOWN (3) when the server cannot be asked. `--json`
/// exits the same, its answer carrying the verdict and every checked address. The served serial
/// raised above the file's (`serial_policy = "bump"`) shows both.
#[test]
fn status_exit_codes_follow_monitoring_plugins() {
    let port = free_port();
    let listening = TcpListener::bind(("127.0.0.101", port)).unwrap();
    let _second = TcpListener::bind(("127.0.0.102", port)).unwrap();
    let daemon = start("exit-codes", port);
    let control = daemon.control();
    wait_status(&daemon, "both addresses checked", |s| {
        s["health_checks"]
            .as_array()
            .is_some_and(|c| c.len() == 2 && c.iter().all(|c| c["state"] == "up"))
    });
    let output = status_command(control, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("SPLITDNS OK - 2 views, 4 zone copies served, 2 checked addresses up\n"),
        "{text}"
    );

    // One address down: WARNING, naming it, its site and why.
    drop(_second);
    wait_status(&daemon, "127.0.0.102 down", |s| {
        s["health_checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["address"] == "127.0.0.102" && c["state"] == "down")
    });
    let output = status_command(control, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("SPLITDNS WARNING - 1 address down\n")
            && text.contains(&format!(
                "WARNING: 127.0.0.102:{port} (site <b>dc1</b>&co: mail.contoso.example) down: connection refused"
            )),
        "{text}"
    );
    let json = status_command(control, &["--json"]);
    assert_eq!(json.status.code(), Some(1));
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(status["verdict"]["status"], "WARNING", "{status:#}");
    let down = status["health_checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "127.0.0.102")
        .unwrap()
        .clone();
    for (key, value) in [
        ("name", "mail.contoso.example"),
        ("view", "internal"),
        ("type", "A"),
        ("site", "<b>dc1</b>&co"),
        ("state", "down"),
        ("reason", "connection refused"),
    ] {
        assert_eq!(down[key], value, "{key}: {down:#}");
    }
    assert_eq!(down["answered"], false, "{down:#}");
    assert!(down["since"].as_u64().unwrap() > 1_700_000_000, "{down:#}");
    assert_eq!(status["checked_names"][0]["failing_open"], false);

    // Content changed without a serial increase: the served serial is raised above the file's.
    write(
        &daemon,
        "contoso.example.zone",
        &zone("contoso.example", SERIAL, "203.0.113.81"),
    );
    let output = reload_command(control);
    assert!(output.status.success(), "{output:?}");
    let status = status_json(control);
    let contoso = &status["views"][1]["zones"][0];
    assert_eq!(contoso["origin"], "contoso.example.", "{status:#}");
    assert_eq!(
        (contoso["serial"].as_u64(), contoso["file_serial"].as_u64()),
        (Some(u64::from(SERIAL) + 1), Some(u64::from(SERIAL))),
        "{status:#}"
    );
    let text = stdout(&status_command(control, &[]));
    assert!(
        text.contains(&format!(
            "contoso.example. serial {} (4 records), raised above the file's serial {SERIAL}",
            SERIAL + 1
        )),
        "{text}"
    );

    // A reload that holds a zone back: its copies are stale (WARNING).
    write(
        &daemon,
        "fabrikam&<i>.zone",
        &format!(
            "{}oops A 300.1.2.3\n",
            zone("fabrikam.example", SERIAL + 1, "198.51.100.81")
        ),
    );
    let output = reload_command(control);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let output = status_command(control, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(
            "SPLITDNS WARNING - last reload partial (1 error); 2 zone copies stale; 1 address down\n"
        ),
        "{text}"
    );

    // A reload refused whole (a broken config): CRITICAL.
    let text = fs::read_to_string(daemon.config()).unwrap();
    write(
        &daemon,
        "splitdns.toml",
        &format!("serial_polcy = 1\n{text}"),
    );
    let output = reload_command(control);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let output = status_command(control, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("SPLITDNS CRITICAL - last reload refused (1 error); ")
            && text.contains("unknown field `serial_polcy`"),
        "{text}"
    );
    assert_eq!(status_command(control, &["--json"]).status.code(), Some(2));

    // The server gone: UNKNOWN, on standard output where monitoring reads it.
    drop(daemon);
    let output = status_command(control, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.starts_with(&format!(
            "SPLITDNS UNKNOWN - cannot reach the control listener at {control}"
        )),
        "{text}"
    );
    assert_eq!(status_command(control, &["--json"]).status.code(), Some(3));
    drop(listening);
}

/// `GET /`: one HTML page with the verdict, each view's zones (serials, state), every checked
/// address by site with its state and reason, and the last reload with its outcome, errors and
/// findings (a check warning); every value
/// from the config and the files escaped (a site named with markup, a zone file whose name has
/// some); it refreshes itself, and its Content-Security-Policy allows no script. Other hosts
/// than the loopback's are refused as on every endpoint. Where Chromium is installed, it
/// renders the page headless into a screenshot.
#[test]
fn status_page_shows_views_checks_and_reload_escaped() {
    let port = free_port();
    let listening = TcpListener::bind(("127.0.0.101", port)).unwrap();
    let daemon = start("html", port);
    let control = daemon.control();
    wait_status(&daemon, "127.0.0.102 down", |s| {
        s["health_checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["address"] == "127.0.0.102" && c["state"] == "down")
    });
    // Changed content (raised serial) and a zone held back (stale, with its file:line).
    write(
        &daemon,
        "contoso.example.zone",
        &zone("contoso.example", SERIAL, "203.0.113.81"),
    );
    write(
        &daemon,
        "fabrikam&<i>.zone",
        &format!(
            "{}oops A 300.1.2.3\n",
            zone("fabrikam.example", SERIAL + 1, "198.51.100.81")
        ),
    );
    let output = reload_command(control);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let (code, head, page) = get(control, "/");
    assert_eq!(code, 200, "{page}");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/html; charset=utf-8")
            && head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    for expected in [
        "<meta http-equiv=\"refresh\" content=\"10\">",
        "WARNING",
        "View internal",
        "View external",
        "contoso.example.",
        "fabrikam.example.",
        ">stale<",
        "title=\"stale: held back, previous data served\"",
        &format!("{}", SERIAL + 1),
        &format!("127.0.0.101:{port}"),
        &format!("127.0.0.102:{port}"),
        "DOWN",
        "connection refused",
        "Site &lt;b&gt;dc1&lt;/b&gt;&amp;co",
        "fabrikam&amp;&lt;i&gt;.zone",
        "queries/s",
        "over the last",
        "partial: zones held back",
        // The last reload's findings: a check warning.
        "<ul class=\"findings\">",
        "view &quot;internal&quot; has secondaries, but no state_dir",
    ] {
        assert!(
            page.contains(expected),
            "no {expected:?} in the page:\n{page}"
        );
    }
    for raw in ["<b>dc1", "<i>.zone", "<script"] {
        assert!(!page.contains(raw), "{raw:?} not escaped:\n{page}");
    }
    if let Some(png) = screenshot(
        &format!("http://{control}/"),
        daemon.dir(),
        "status-page-warning",
    ) {
        assert_real_png(&png);
    }

    let (code, _, body) = get(control, "/nowhere");
    assert_eq!(code, 404, "{body}");
    let mut stream = TcpStream::connect(control).unwrap();
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    drop(listening);
}
