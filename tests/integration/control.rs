//! Operations, judged against the real `splitdns` binary: the control listener's
//! `/metrics` scraped over HTTP and read by a real Prometheus parser (Debian's
//! `python3-prometheus-client`, its OpenMetrics parser, since that is the format served);
//! `/status` compared with the config; `splitdns reload` and `splitdns status` run as an admin
//! would; hostile input on the control port; and the sd_notify messages the server sends to a
//! `NOTIFY_SOCKET` this test binds itself.
//!
//! Each test runs its own server from a scratch directory, on free loopback ports. 127.0.0.2 is
//! the internal view's client, 127.0.0.3 an external one.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{self, EXTERNAL, INTERNAL, Via, free_port};

/// Upper bound for every wait: start-up, reloads, log lines.
const GENEROUS: Duration = Duration::from_secs(10);

const SERIAL: u32 = 2026120101;

/// The standard config; its control port, 0 here, is set to a free one when a [`Daemon`] starts.
const CONFIG: &str = r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8", "127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
[zone.views]
internal = "contoso.example.internal.zone"

[[zone]]
origin = "fabrikam.example"
file = "fabrikam.example.zone"

[control]
listen = "127.0.0.1:0"
"#;

fn zone(origin: &str, serial: u32, www: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 3600\n\
         @    SOA ns1 hostmaster ( {serial} 3600 900 1209600 300 )\n\
         \x20    NS  ns1\n\
         ns1  A   203.0.113.53\n\
         www  A   {www}\n\
         mail A   203.0.113.10\n"
    )
}

const INTERNAL_OVERRIDE: &str = "$ORIGIN contoso.example.\n$TTL 300\nmail A 10.0.0.11\n";

/// A `splitdns serve` child ([`common::Daemon`], with its control listener) and its directory.
struct Daemon {
    daemon: common::Daemon,
    dir: PathBuf,
    dns: SocketAddr,
    control: SocketAddr,
}

impl std::ops::Deref for Daemon {
    type Target = common::Daemon;
    fn deref(&self) -> &common::Daemon {
        &self.daemon
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut common::Daemon {
        &mut self.daemon
    }
}

/// The standard config and zones in a fresh scratch directory, then `files` (name, content) over
/// them; the config's path.
fn write_files(test: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = common::scratch_dir(&format!("control-{test}"));
    let standard = [
        ("splitdns.toml", CONFIG.to_string()),
        (
            "contoso.example.zone",
            zone("contoso.example", SERIAL, "203.0.113.80"),
        ),
        (
            "contoso.example.internal.zone",
            INTERNAL_OVERRIDE.to_string(),
        ),
        (
            "fabrikam.example.zone",
            zone("fabrikam.example", SERIAL, "198.51.100.80"),
        ),
    ];
    for (name, text) in &standard {
        fs::write(dir.join(name), text).unwrap();
    }
    for (name, text) in files {
        fs::write(dir.join(name), text).unwrap();
    }
    dir.join("splitdns.toml")
}

impl Daemon {
    /// Writes the standard files and starts the server (with `NOTIFY_SOCKET` when given),
    /// returning once it answers DNS and its control listener accepts.
    fn start(test: &str, notify: Option<&Path>) -> Daemon {
        Daemon::start_with(test, notify, &[], "")
    }

    /// [`Daemon::start`], with some of the standard files replaced by `files` (name, content)
    /// and `config_tail` appended to the config.
    fn start_with(
        test: &str,
        notify: Option<&Path>,
        files: &[(&str, &str)],
        config_tail: &str,
    ) -> Daemon {
        let config = write_files(test, files);
        if !config_tail.is_empty() {
            let text = fs::read_to_string(&config).unwrap();
            fs::write(&config, format!("{text}\n{config_tail}")).unwrap();
        }
        let builder = common::Daemon::serve(&config).control();
        let daemon = match notify {
            // As systemd sets them for `WatchdogSec=0.4s`: a ping every 200 ms is expected.
            // The test itself waits for READY=1 (that is what it judges).
            Some(socket) => builder
                .env("NOTIFY_SOCKET", socket)
                .env("WATCHDOG_USEC", "400000")
                .spawn(),
            None => builder.start(),
        };
        Daemon {
            dir: config.parent().unwrap().to_path_buf(),
            dns: daemon.dns,
            control: daemon.control(),
            daemon,
        }
    }

    fn write(&self, file: &str, text: &str) {
        // Saved by rename, as editors do: the watcher sees one complete file.
        let temporary = self.dir.join(format!(".{file}.tmp"));
        fs::write(&temporary, text).unwrap();
        fs::rename(&temporary, self.dir.join(file)).unwrap();
    }

    /// Runs `splitdns <args> --config <this config>`.
    fn cli(&self, args: &[&str]) -> Output {
        common::splitdns()
            .args(args)
            .arg("--config")
            .arg(self.dir.join("splitdns.toml"))
            .output()
            .expect("run splitdns")
    }

    /// The A records for `name` as `from` sees them over `via`.
    fn a(&self, from: std::net::IpAddr, via: Via, name: &str) -> Vec<String> {
        let reply = common::ask(&self.server(), from, via, name, RecordType::A);
        assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.dump());
        common::sorted(reply.answer())
    }
}

/// One HTTP/1.1 request with `Connection: close`; the status code and the body.
pub(crate) fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    http_with(addr, method, path, "")
}

/// [`http`] with extra header lines (each ending in CRLF).
fn http_with(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the control listener");
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    split_response(&raw)
}

fn split_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let code = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string());
    (code, body)
}

/// A sample of a scraped metric family, as the Python parser read it.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    family: String,
    kind: String,
    name: String,
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// The Debian Python interpreter with `prometheus_client`, if installed.
fn python_with_prometheus() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args([
                "-c",
                "import prometheus_client.parser, prometheus_client.openmetrics.parser",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Which of prometheus_client's parsers to read an exposition with.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// `prometheus_client.parser`: the classic text format (what curl gets).
    Prometheus,
    /// `prometheus_client.openmetrics.parser`, strict: it rejects what OpenMetrics does not
    /// allow (what Prometheus itself asks for).
    OpenMetrics,
}

/// Scrapes /metrics in `format` and parses it with the matching real parser: every sample.
fn scrape(python: &str, control: SocketAddr, format: Format) -> (String, Vec<Sample>) {
    let accept = match format {
        Format::Prometheus => "",
        Format::OpenMetrics => "Accept: application/openmetrics-text; version=1.0.0\r\n",
    };
    let (code, text) = http_with(control, "GET", "/metrics", accept);
    assert_eq!(code, 200, "{text}");
    let samples = parse_metrics(python, &text, format);
    (text, samples)
}

fn parse_metrics(python: &str, text: &str, format: Format) -> Vec<Sample> {
    let module = match format {
        Format::Prometheus => "prometheus_client.parser",
        Format::OpenMetrics => "prometheus_client.openmetrics.parser",
    };
    let script = format!(
        "
import json, sys
from {module} import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        print(json.dumps({{'family': family.name, 'kind': family.type, 'name': s.name,
                          'labels': s.labels, 'value': s.value}}))
"
    );
    let mut child = Command::new(python)
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "the {format:?} parser rejected /metrics: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The value of the sample `name` with exactly these labels (0 when absent: counters that have
/// not counted are not written).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map_or(0.0, |s| s.value)
}

#[test]
fn metrics_count_per_view_outcome_and_transport() {
    let Some(python) = python_with_prometheus() else {
        println!(
            "skipped: python3-prometheus-client is not installed (.ci/run installs it), so /metrics cannot be parsed"
        );
        return;
    };
    let daemon = Daemon::start("metrics", None);
    let before = scrape(python, daemon.control, Format::Prometheus).1;
    // The queries wait_ready sent are counted too: compare differences.
    let q = |samples: &[Sample], view: &str, transport: &str| {
        value(
            samples,
            "splitdns_queries_total",
            &[
                ("view", view),
                ("transport", transport),
                ("family", "ipv4"),
                ("qtype", "A"),
            ],
        )
    };
    let r = |samples: &[Sample], view: &str, transport: &str, outcome: &str, rcode: &str| {
        value(
            samples,
            "splitdns_responses_total",
            &[
                ("view", view),
                ("transport", transport),
                ("outcome", outcome),
                ("rcode", rcode),
            ],
        )
    };

    let server = daemon.server();
    for _ in 0..3 {
        assert_eq!(
            daemon.a(INTERNAL, Via::Udp, "mail.contoso.example."),
            ["mail.contoso.example. 300 A 10.0.0.11"]
        );
    }
    let reply = common::ask(
        &server,
        INTERNAL,
        Via::Udp,
        "nope.contoso.example.",
        RecordType::A,
    );
    assert_eq!(reply.rcode(), ResponseCode::NXDomain);
    for _ in 0..2 {
        assert_eq!(
            daemon.a(EXTERNAL, Via::Udp, "mail.contoso.example."),
            ["mail.contoso.example. 3600 A 203.0.113.10"]
        );
    }
    daemon.a(EXTERNAL, Via::Tcp, "www.fabrikam.example.");
    let reply = common::ask(&server, EXTERNAL, Via::Tcp, "example.org.", RecordType::A);
    assert_eq!(reply.rcode(), ResponseCode::Refused);
    let reply = common::ask(
        &server,
        EXTERNAL,
        Via::Udp,
        "contoso.example.",
        RecordType::MX,
    );
    assert_eq!(reply.rcode(), ResponseCode::NoError);

    let (text, after) = scrape(python, daemon.control, Format::Prometheus);
    // Prometheus itself asks for OpenMetrics: the same samples, read by the strict parser.
    let (openmetrics, strict) = scrape(python, daemon.control, Format::OpenMetrics);
    let key = |s: &Sample| (s.name.clone(), s.labels.clone(), s.value.to_bits());
    // The open connections are a live gauge: the test's last TCP connection may still be
    // closing at the first scrape and gone at the second.
    let steady = |s: &&Sample| s.name != "splitdns_tcp_connections_open";
    let (mut a, mut b): (Vec<_>, Vec<_>) = (
        after.iter().filter(steady).map(key).collect(),
        strict.iter().filter(steady).map(key).collect(),
    );
    a.sort();
    b.sort();
    assert_eq!(a, b, "the two formats disagree:\n{text}\n{openmetrics}");
    let delta = |f: &dyn Fn(&[Sample]) -> f64| f(&after) - f(&before);
    assert_eq!(delta(&|s| q(s, "internal", "udp")), 4.0, "{text}");
    assert_eq!(delta(&|s| q(s, "external", "udp")), 2.0, "{text}");
    assert_eq!(delta(&|s| q(s, "external", "tcp")), 2.0, "{text}");
    assert_eq!(delta(&|s| q(s, "internal", "tcp")), 0.0, "{text}");
    assert_eq!(
        delta(&|s| value(
            s,
            "splitdns_queries_total",
            &[
                ("view", "external"),
                ("transport", "udp"),
                ("family", "ipv4"),
                ("qtype", "MX")
            ]
        )),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| r(s, "internal", "udp", "answer", "NOERROR")),
        3.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| r(s, "internal", "udp", "nxdomain", "NXDOMAIN")),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| r(s, "external", "udp", "answer", "NOERROR")),
        2.0,
        "{text}"
    );
    // The zone has no MX: NODATA, still NOERROR.
    assert_eq!(
        delta(&|s| r(s, "external", "udp", "nodata", "NOERROR")),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| r(s, "external", "tcp", "answer", "NOERROR")),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| r(s, "external", "tcp", "refused", "REFUSED")),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(&|s| value(
            s,
            "splitdns_tcp_connections_total",
            &[("result", "accepted")]
        )),
        2.0,
        "{text}"
    );
    // Gauges from the snapshot, and the build info.
    for view in ["internal", "external"] {
        for zone in ["contoso.example.", "fabrikam.example."] {
            assert_eq!(
                value(
                    &after,
                    "splitdns_zone_serial",
                    &[("view", view), ("zone", zone)]
                ),
                f64::from(SERIAL),
                "{text}"
            );
        }
    }
    assert_eq!(
        value(
            &after,
            "splitdns_zone_records",
            &[("view", "internal"), ("zone", "contoso.example.")]
        ),
        5.0,
        "{text}"
    );
    assert_eq!(
        value(
            &after,
            "splitdns_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0,
        "{text}"
    );
    // Every `_total` sample belongs to a counter family of that name (the parsers check the
    // format; this checks the conventions).
    for sample in after
        .iter()
        .chain(&strict)
        .filter(|s| s.name.ends_with("_total"))
    {
        assert_eq!(sample.kind, "counter", "{sample:?}");
        assert_eq!(format!("{}_total", sample.family), sample.name);
    }
    // No label carries a query name or a client address.
    for sample in &after {
        for label in sample.labels.values() {
            assert!(
                !label.contains("127.0.0") && !label.contains("mail") && !label.contains("www"),
                "high-cardinality label in {sample:?}"
            );
        }
    }
}

#[test]
fn status_matches_the_config_and_reload_reports_file_and_line() {
    let daemon = Daemon::start("status", None);
    let (code, body) = http(daemon.control, "GET", "/status");
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        status["listen"],
        serde_json::json!([daemon.dns.to_string()])
    );
    assert_eq!(status["control"], daemon.control.to_string());
    assert!(status["last_reload"].is_null(), "{body}");
    let views = status["views"].as_array().unwrap();
    let names: Vec<&str> = views.iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["internal", "external"]);
    assert_eq!(
        views[0]["clients"],
        serde_json::json!(["10.0.0.0/8", "127.0.0.2/32"])
    );
    assert_eq!(
        views[1]["clients"],
        serde_json::json!(["0.0.0.0/0", "::/0"])
    );
    let file = |name: &str| daemon.dir.join(name).display().to_string();
    let zone = |view: usize, origin: &str| {
        views[view]["zones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|z| z["origin"] == origin)
            .unwrap_or_else(|| panic!("no {origin} in view {view}: {body}"))
            .clone()
    };
    let internal = zone(0, "contoso.example.");
    assert_eq!(internal["serial"], SERIAL);
    assert_eq!(internal["records"], 5);
    assert_eq!(
        internal["files"],
        serde_json::json!([
            file("contoso.example.zone"),
            file("contoso.example.internal.zone")
        ])
    );
    assert_eq!(
        zone(1, "contoso.example.")["files"],
        serde_json::json!([file("contoso.example.zone")])
    );
    assert_eq!(zone(1, "fabrikam.example.")["serial"], SERIAL);

    // `splitdns status` prints the same for a person.
    let output = daemon.cli(&["status"]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains(&format!("contoso.example. serial {SERIAL} (5 records)"))
            && printed.contains("view internal (clients 10.0.0.0/8, 127.0.0.2/32)"),
        "{printed}"
    );

    // A good edit: `splitdns reload` exits 0 and the change is served.
    daemon.write(
        "contoso.example.zone",
        &zone_text_with_www(SERIAL + 1, "203.0.113.81"),
    );
    let output = daemon.cli(&["reload"]);
    assert!(
        output.status.success(),
        "reload failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("serial {}", SERIAL + 1)));
    assert_eq!(
        daemon.a(EXTERNAL, Via::Udp, "www.contoso.example."),
        ["www.contoso.example. 3600 A 203.0.113.81"]
    );

    // A bad edit: exit 1 with the file and line, and the previous data keeps serving.
    let broken = format!(
        "{}oops A 300.1.2.3\n",
        zone_text_with_www(SERIAL + 2, "203.0.113.82")
    );
    daemon.write("contoso.example.zone", &broken);
    let output = daemon.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = format!("{}:8:", file("contoso.example.zone"));
    assert!(stderr.contains(&expected), "no {expected} in:\n{stderr}");
    assert_eq!(
        daemon.a(EXTERNAL, Via::Udp, "www.contoso.example."),
        ["www.contoso.example. 3600 A 203.0.113.81"]
    );
    let status: serde_json::Value =
        serde_json::from_str(&http(daemon.control, "GET", "/status").1).unwrap();
    let last = &status["last_reload"];
    assert_eq!(last["ok"], false, "{status}");
    assert!(
        last["errors"][0].as_str().unwrap().starts_with(&expected),
        "{status}"
    );
    // The broken zone keeps its previous data, and says why.
    let contoso = status["views"][1]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["origin"] == "contoso.example.")
        .cloned()
        .unwrap();
    assert_eq!(contoso["serial"], SERIAL + 1, "{status}");
    assert_eq!(contoso["state"], "stale", "{status}");

    // A broken config file refuses the whole reload: exit 1, the config's file:line, nothing
    // applied.
    let config_path = daemon.dir.join("splitdns.toml");
    let text = fs::read_to_string(&config_path).unwrap();
    daemon.write("splitdns.toml", &format!("serial_polcy = \"bump\"\n{text}"));
    let output = daemon.cli(&["reload", "--control", &daemon.control.to_string()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:1:1: unknown field `serial_polcy`",
            config_path.display()
        )) && stderr.contains("reload: refused: previous data kept ("),
        "{stderr}"
    );
    let status: serde_json::Value =
        serde_json::from_str(&http(daemon.control, "GET", "/status").1).unwrap();
    assert_eq!(status["last_reload"]["applied"], false, "{status}");
}

fn zone_text_with_www(serial: u32, www: &str) -> String {
    zone("contoso.example", serial, www)
}

/// Garbage, oversized, slow and misdirected requests get an HTTP error or a closed connection,
/// and DNS answers throughout.
#[test]
fn control_listener_survives_bad_input() {
    let daemon = Daemon::start("bad-input", None);
    let dns_still_answers = || {
        assert_eq!(
            daemon.a(INTERNAL, Via::Udp, "mail.contoso.example."),
            ["mail.contoso.example. 300 A 10.0.0.11"]
        );
    };
    let exchange_raw = |bytes: &[u8]| -> Vec<u8> {
        let mut stream = TcpStream::connect(daemon.control).unwrap();
        stream.set_read_timeout(Some(GENEROUS)).unwrap();
        // The server may close before reading everything: a failed write is a closed connection.
        let _ = stream.write_all(bytes);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        raw
    };

    // Not HTTP at all.
    let raw = exchange_raw(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03 binary garbage\r\n\r\n");
    assert!(
        raw.is_empty() || split_response(&raw).0 == 400,
        "{:?}",
        String::from_utf8_lossy(&raw)
    );
    dns_still_answers();

    // A huge header.
    let mut huge = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Padding: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 256 * 1024));
    huge.extend_from_slice(b"\r\n\r\n");
    let raw = exchange_raw(&huge);
    assert!(
        raw.is_empty() || split_response(&raw).0 == 431,
        "{:?}",
        String::from_utf8_lossy(&raw[..raw.len().min(200)])
    );
    dns_still_answers();

    // A Host that is not this machine's loopback (DNS rebinding from a browser): 403.
    let raw = exchange_raw(
        b"POST /reload HTTP/1.1\r\nHost: rebind.attacker.example:9153\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(
        split_response(&raw).0,
        403,
        "{}",
        String::from_utf8_lossy(&raw)
    );
    assert!(
        http(daemon.control, "GET", "/status")
            .1
            .contains("\"last_reload\": null")
    );

    // Unknown path, wrong method.
    assert_eq!(http(daemon.control, "GET", "/secret").0, 404);
    assert_eq!(http(daemon.control, "GET", "/reload").0, 405);
    assert_eq!(http(daemon.control, "DELETE", "/status").0, 405);
    dns_still_answers();

    // A slow client: half a request line, then nothing. The server closes it (header timeout)
    // while DNS keeps answering.
    let mut slow = TcpStream::connect(daemon.control).unwrap();
    slow.write_all(b"GET /sta").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let started = Instant::now();
    dns_still_answers();
    assert_eq!(http(daemon.control, "GET", "/status").0, 200);
    let mut rest = Vec::new();
    let closed = slow.read_to_end(&mut rest);
    assert!(
        closed.is_ok() && started.elapsed() < Duration::from_secs(12),
        "slow client not closed: {closed:?} after {:?}",
        started.elapsed()
    );
    dns_still_answers();
}

/// The sd_notify protocol as systemd would see it: READY=1 only once the server answers,
/// RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a reload, WATCHDOG=1 pings when
/// WATCHDOG_USEC is set, STOPPING=1 on SIGTERM, and a clean exit.
#[test]
fn systemd_notifications_come_in_order() {
    let dir = common::scratch_dir("control-notify-socket");
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    socket.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut daemon = Daemon::start("notify", Some(&path));
    let pings = std::cell::Cell::new(0);
    // The next message other than a watchdog ping (those are counted).
    let next = || -> String {
        loop {
            let mut buffer = [0u8; 4096];
            let len = socket
                .recv(&mut buffer)
                .unwrap_or_else(|e| panic!("no sd_notify message within {GENEROUS:?}: {e}"));
            let message = String::from_utf8_lossy(&buffer[..len]).into_owned();
            if message == "WATCHDOG=1\n" {
                pings.set(pings.get() + 1);
                continue;
            }
            return message;
        }
    };
    let ready = next();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    assert!(
        ready.contains("STATUS=view internal [contoso.example. serial 2026120101"),
        "{ready:?}"
    );
    // Straight after READY=1, the first query is answered (no retry; the wait is generous only
    // because the machine may be busy).
    assert!(
        daemon.answers_within(INTERNAL, Duration::from_secs(2)),
        "the first query after READY=1 was not answered"
    );
    // The control listener is up too (the test's only wait for it).
    let deadline = Instant::now() + GENEROUS;
    while TcpStream::connect(daemon.control).is_err() {
        assert!(Instant::now() < deadline, "control listener not up");
        std::thread::sleep(Duration::from_millis(20));
    }

    let output = daemon.cli(&["reload"]);
    assert!(output.status.success(), "{output:?}");
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading:?}"
    );
    let reloaded = next();
    assert!(
        reloaded.starts_with("READY=1\nSTATUS=view internal"),
        "{reloaded:?}"
    );

    // Watchdog pings keep coming while it runs.
    let seen = pings.get();
    std::thread::sleep(Duration::from_millis(600));
    daemon.signal("TERM");
    let stopping = next();
    assert!(stopping.starts_with("STOPPING=1"), "{stopping:?}");
    assert!(
        pings.get() > seen,
        "no WATCHDOG=1 in 600 ms with WATCHDOG_USEC=400000"
    );
    let deadline = Instant::now() + GENEROUS;
    loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            assert!(status.success(), "exit {status}:\n{}", daemon.log_text());
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shipped unit passes `systemd-analyze verify` (with the binary path pointed at the one
/// just built, since verify checks that the commands exist).
#[test]
fn systemd_unit_verifies() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/splitdns.service");
    let text = fs::read_to_string(&unit).unwrap();
    for needed in [
        "Type=notify",
        "ExecReload=/usr/local/bin/splitdns reload --config /etc/splitdns/splitdns.toml",
        "WatchdogSec=",
    ] {
        assert!(text.contains(needed), "the unit lacks {needed}");
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: systemd-analyze is not installed (Debian package `systemd`)");
        return;
    }
    let dir = common::scratch_dir("control-unit");
    let copy = dir.join("splitdns.service");
    fs::write(
        &copy,
        text.replace("/usr/local/bin/splitdns", common::BINARY),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "systemd-analyze verify:\n{said}");
    // verify exits 0 on some warnings: any line about our unit is a finding.
    let findings: Vec<&str> = said
        .lines()
        .filter(|line| line.contains("splitdns.service"))
        .collect();
    assert!(findings.is_empty(), "systemd-analyze verify:\n{said}");
}

/// The fabrikam zone with a line that does not parse (line 8).
fn broken_fabrikam(serial: u32) -> String {
    format!(
        "{}oops A 300.1.2.3\n",
        zone("fabrikam.example", serial, "198.51.100.81")
    )
}

/// Reload isolation: zone A (fabrikam) broken and zone B (contoso) changed in one reload → B's
/// change is served, A keeps its previous data, and both show in /status and /metrics.
#[test]
fn a_broken_zone_keeps_its_data_while_other_changes_are_published() {
    let daemon = Daemon::start("isolation", None);
    daemon.write("fabrikam.example.zone", &broken_fabrikam(SERIAL + 1));
    daemon.write(
        "contoso.example.zone",
        &zone("contoso.example", SERIAL + 1, "203.0.113.81"),
    );
    let output = daemon.cli(&["reload"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let broken_at = format!("{}:8:", daemon.dir.join("fabrikam.example.zone").display());
    assert!(
        stderr.contains(&broken_at) && stderr.contains("reload: partial: zones held back ("),
        "{stderr}"
    );
    for from in [INTERNAL, EXTERNAL] {
        assert_eq!(
            daemon.a(from, Via::Udp, "www.contoso.example."),
            ["www.contoso.example. 3600 A 203.0.113.81"],
            "contoso's change is served"
        );
        assert_eq!(
            daemon.a(from, Via::Udp, "www.fabrikam.example."),
            ["www.fabrikam.example. 3600 A 198.51.100.80"],
            "fabrikam keeps its previous data"
        );
    }
    let status: serde_json::Value =
        serde_json::from_str(&http(daemon.control, "GET", "/status").1).unwrap();
    for view in status["views"].as_array().unwrap() {
        let zone = |origin: &str| {
            view["zones"]
                .as_array()
                .unwrap()
                .iter()
                .find(|z| z["origin"] == origin)
                .unwrap_or_else(|| panic!("no {origin}: {status}"))
                .clone()
        };
        let contoso = zone("contoso.example.");
        assert_eq!(contoso["state"], "ok", "{status}");
        assert_eq!(contoso["serial"], SERIAL + 1, "{status}");
        let fabrikam = zone("fabrikam.example.");
        assert_eq!(fabrikam["state"], "stale", "{status}");
        assert_eq!(fabrikam["serial"], SERIAL, "{status}");
        assert!(
            fabrikam["errors"][0]
                .as_str()
                .unwrap()
                .starts_with(&broken_at),
            "{status}"
        );
    }
    assert_eq!(status["last_reload"]["applied"], true, "{status}");
    assert_eq!(status["last_reload"]["ok"], false, "{status}");
    let metrics = http(daemon.control, "GET", "/metrics").1;
    assert!(
        metrics.contains(
            "splitdns_zone_load_failed{view=\"external\",zone=\"fabrikam.example.\",served=\"previous\"} 1"
        ) && !metrics.contains("splitdns_reloads_total{result=\"partial\"} 0"),
        "{metrics}"
    );

    // Fixed: everything loads again, and `reload` says so.
    daemon.write(
        "fabrikam.example.zone",
        &zone("fabrikam.example", SERIAL + 2, "198.51.100.82"),
    );
    let output = daemon.cli(&["reload"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        daemon.a(EXTERNAL, Via::Tcp, "www.fabrikam.example."),
        ["www.fabrikam.example. 3600 A 198.51.100.82"]
    );
    assert!(
        !http(daemon.control, "GET", "/metrics")
            .1
            .contains("splitdns_zone_load_failed{")
    );
}

/// The reload-outcome and zone-state series, read by the real parser in both formats: before any
/// reload `splitdns_last_reload` is 0 for every result and every copy `ok`; after a partial
/// reload (a zone file broken) the counter and the state set say `partial` and both copies of the
/// zone are `stale`; after a refused one (a broken config) they say `refused`, the copies still
/// `stale`. The alert rules in docs/operations.md read exactly these series.
#[test]
fn metrics_name_the_reload_outcome_and_zone_copy_state() {
    let Some(python) = python_with_prometheus() else {
        println!(
            "skipped: python3-prometheus-client is not installed (.ci/run installs it), so /metrics cannot be parsed"
        );
        return;
    };
    let daemon = Daemon::start("outcome-series", None);
    // Both formats, the same samples: the strict OpenMetrics parser is what Prometheus is.
    let scrape_both = || {
        let (text, classic) = scrape(python, daemon.control, Format::Prometheus);
        let strict = scrape(python, daemon.control, Format::OpenMetrics).1;
        for name in ["splitdns_last_reload", "splitdns_zone_state"] {
            let pick = |samples: &[Sample]| {
                let mut rows: Vec<_> = samples
                    .iter()
                    .filter(|s| s.name == name)
                    .map(|s| (s.labels.clone(), s.value.to_bits()))
                    .collect();
                rows.sort();
                rows
            };
            assert_eq!(pick(&classic), pick(&strict), "{name}:\n{text}");
        }
        for sample in classic
            .iter()
            .filter(|s| s.family == "splitdns_last_reload")
        {
            assert_eq!(sample.kind, "gauge", "{text}");
        }
        (text, classic)
    };
    // The last reload's state set, and the counter, by result (ok, partial, refused).
    let read = || {
        let (text, samples) = scrape_both();
        let results = ["ok", "partial", "refused"];
        let last: Vec<f64> = results
            .iter()
            .map(|r| value(&samples, "splitdns_last_reload", &[("result", r)]))
            .collect();
        let counted: Vec<f64> = results
            .iter()
            .map(|r| value(&samples, "splitdns_reloads_total", &[("result", r)]))
            .collect();
        (last, counted, text, samples)
    };
    let state = |samples: &[Sample], view: &str, zone: &str| -> Vec<&str> {
        ["ok", "stale", "unavailable"]
            .into_iter()
            .filter(|state| {
                value(
                    samples,
                    "splitdns_zone_state",
                    &[("view", view), ("zone", zone), ("state", state)],
                ) == 1.0
            })
            .collect()
    };

    // Every reload is `splitdns reload`'s, plus any the file watcher ran on the same edit (same
    // files, same outcome, unless it caught a two-file edit half-way): counters are compared
    // as "went up", the state set exactly.
    let (last, counted, text, samples) = read();
    assert_eq!(last, [0.0, 0.0, 0.0], "{text}");
    assert_eq!(counted, [0.0, 0.0, 0.0], "{text}");
    for view in ["internal", "external"] {
        for zone in ["contoso.example.", "fabrikam.example."] {
            assert_eq!(state(&samples, view, zone), ["ok"], "{text}");
        }
    }

    let reload = || daemon.cli(&["reload", "--control", &daemon.control.to_string()]);
    daemon.write("fabrikam.example.zone", &broken_fabrikam(SERIAL + 1));
    assert_eq!(reload().status.code(), Some(1));
    let (last, counted, text, samples) = read();
    assert_eq!(last, [0.0, 1.0, 0.0], "{text}");
    assert!(
        counted[0] == 0.0 && counted[1] >= 1.0 && counted[2] == 0.0,
        "{text}"
    );
    let before = counted;
    for view in ["internal", "external"] {
        assert_eq!(
            state(&samples, view, "fabrikam.example."),
            ["stale"],
            "{text}"
        );
        assert_eq!(state(&samples, view, "contoso.example."), ["ok"], "{text}");
    }

    let config = daemon.dir.join("splitdns.toml");
    let good = fs::read_to_string(&config).unwrap();
    daemon.write("splitdns.toml", &format!("serial_polcy = 1\n{good}"));
    assert_eq!(reload().status.code(), Some(1));
    let (last, counted, text, samples) = read();
    assert_eq!(last, [0.0, 0.0, 1.0], "{text}");
    assert!(
        counted[0] == 0.0 && counted[1] == before[1] && counted[2] >= 1.0,
        "{text}"
    );
    let before = counted;
    for view in ["internal", "external"] {
        assert_eq!(
            state(&samples, view, "fabrikam.example."),
            ["stale"],
            "{text}"
        );
    }

    // Fixed: ok, and every copy ok again.
    daemon.write("splitdns.toml", &good);
    daemon.write(
        "fabrikam.example.zone",
        &zone("fabrikam.example", SERIAL + 2, "198.51.100.82"),
    );
    let output = reload();
    assert!(output.status.success(), "{output:?}");
    let (last, counted, text, samples) = read();
    assert_eq!(last, [1.0, 0.0, 0.0], "{text}");
    assert!(counted[0] >= 1.0 && counted[2] == before[2], "{text}");
    for view in ["internal", "external"] {
        assert_eq!(state(&samples, view, "fabrikam.example."), ["ok"], "{text}");
    }
}

/// One word for one outcome: for the same reload, `splitdns reload`'s last line, the log line,
/// `splitdns status`'s last-reload line and its verdict, `/status`'s `last_reload.outcome`, the
/// status page and the `result` label of `splitdns_last_reload` all say `ok`, `partial` or
/// `refused` (with the same phrase where a person reads it). The ok reload also gives a view
/// secondaries without a `state_dir`: that check warning is among the reload's findings, in
/// `/status`, `splitdns status`, `splitdns reload` and on the page.
#[test]
fn the_words_for_a_reload_agree_everywhere() {
    let daemon = Daemon::start("words", None);
    let config = daemon.dir.join("splitdns.toml");
    let good = fs::read_to_string(&config).unwrap();
    type Step<'a> = (&'a str, &'a str, Box<dyn Fn(&Daemon) + 'a>);
    let steps: [Step; 3] = [
        (
            "partial",
            "partial: zones held back",
            Box::new(|d: &Daemon| d.write("fabrikam.example.zone", &broken_fabrikam(SERIAL + 1))),
        ),
        (
            "refused",
            "refused: previous data kept",
            Box::new(|d: &Daemon| d.write("splitdns.toml", &format!("serial_polcy = 1\n{good}"))),
        ),
        (
            "ok",
            "ok",
            Box::new(|d: &Daemon| {
                // Secondaries without a state_dir: a check warning, found by every reload (the
                // file watcher's too, which may run first), so a finding of this one.
                let transferred = good.replacen(
                    "clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]\n",
                    "clients = [\"10.0.0.0/8\", \"127.0.0.2/32\"]\ntransfer = { allow = [\"127.0.0.9/32\"] }\n",
                    1,
                );
                assert_ne!(transferred, good);
                d.write("splitdns.toml", &transferred);
                d.write(
                    "fabrikam.example.zone",
                    &zone("fabrikam.example", SERIAL + 2, "198.51.100.82"),
                );
            }),
        ),
    ];
    // With --control: the commands read no config, which is broken for the refused step.
    let control = daemon.control.to_string();
    for (word, phrase, edit) in steps {
        edit(&daemon);
        let output = daemon.cli(&["reload", "--control", &control]);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.success(), word == "ok", "{said}");
        // The findings and errors come first (on standard error), then this one line.
        let summary = said
            .lines()
            .filter(|l| l.starts_with("reload: "))
            .collect::<Vec<_>>();
        assert!(
            summary.len() == 1 && summary[0].starts_with(&format!("reload: {phrase} (")),
            "{word}: splitdns reload said:\n{said}"
        );
        daemon.wait_log(&[&format!("reload on request: {phrase}")]);

        let status: serde_json::Value =
            serde_json::from_str(&http(daemon.control, "GET", "/status").1).unwrap();
        let last = &status["last_reload"];
        assert_eq!(last["outcome"], word, "{status}");
        assert_eq!(last["ok"], word == "ok", "{status}");
        assert_eq!(last["applied"], word != "refused", "{status}");

        let printed =
            String::from_utf8_lossy(&daemon.cli(&["status", "--control", &control]).stdout)
                .into_owned();
        assert!(
            printed.contains(&format!("last reload: {phrase} (on request, ")),
            "{word}: splitdns status said:\n{printed}"
        );
        let verdict = printed.lines().next().unwrap_or_default();
        assert_eq!(
            verdict.contains(&format!("last reload {word} (")),
            word != "ok",
            "{verdict}"
        );

        let page = http(daemon.control, "GET", "/").1;
        assert!(
            page.contains(&format!(">{phrase}</span> on request")),
            "{word}:\n{page}"
        );

        let metrics = http(daemon.control, "GET", "/metrics").1;
        for other in ["ok", "partial", "refused"] {
            let line = format!(
                "splitdns_last_reload{{result=\"{other}\"}} {}",
                u8::from(other == word)
            );
            assert!(metrics.contains(&line), "no {line} in:\n{metrics}");
        }

        let warned = "view \"internal\" has secondaries, but no state_dir";
        let findings = last["findings"].as_array().unwrap();
        let found = findings
            .iter()
            .any(|f| f.as_str().unwrap().contains(warned));
        assert_eq!(found, word == "ok", "{status}");
        if word == "ok" {
            assert!(printed.contains(warned), "{printed}");
            assert!(said.contains(warned), "{said}");
            assert!(page.contains("<ul class=\"findings\">"), "{page}");
        }
    }
}

/// At start, with no previous data: the broken zone is not served (SERVFAIL), the others are;
/// with `all_or_nothing = true` the server does not start, naming the file and line.
#[test]
fn a_zone_that_never_loaded_gets_servfail_unless_all_or_nothing() {
    let broken = broken_fabrikam(SERIAL);
    let daemon = Daemon::start_with(
        "unavailable",
        None,
        &[("fabrikam.example.zone", &broken)],
        "",
    );
    assert_eq!(
        daemon.a(EXTERNAL, Via::Udp, "www.contoso.example."),
        ["www.contoso.example. 3600 A 203.0.113.80"]
    );
    for via in [Via::Udp, Via::Tcp] {
        let reply = common::ask(
            &daemon.server(),
            INTERNAL,
            via,
            "www.fabrikam.example.",
            RecordType::A,
        );
        assert_eq!(reply.rcode(), ResponseCode::ServFail, "{}", reply.dump());
    }
    let status: serde_json::Value =
        serde_json::from_str(&http(daemon.control, "GET", "/status").1).unwrap();
    let fabrikam = status["views"][0]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["origin"] == "fabrikam.example.")
        .cloned()
        .unwrap_or_else(|| panic!("fabrikam not in status: {status}"));
    assert_eq!(fabrikam["state"], "unavailable", "{status}");
    assert!(fabrikam["serial"].is_null(), "{status}");
    let printed = String::from_utf8_lossy(&daemon.cli(&["status"]).stdout).into_owned();
    assert!(
        printed.contains("fabrikam.example.: unavailable: held back, no previous data (SERVFAIL)"),
        "{printed}"
    );
    let metrics = http(daemon.control, "GET", "/metrics").1;
    assert!(
        metrics.contains("splitdns_responses_total{view=\"internal\",transport=\"udp\",outcome=\"servfail\",rcode=\"SERVFAIL\"} 1")
            && metrics.contains("splitdns_zone_load_failed{view=\"internal\",zone=\"fabrikam.example.\",served=\"none\"} 1")
            && metrics.contains("splitdns_zone_state{view=\"internal\",zone=\"fabrikam.example.\",state=\"unavailable\"} 1")
            && metrics.contains("splitdns_zone_state{view=\"internal\",zone=\"fabrikam.example.\",state=\"stale\"} 0"),
        "{metrics}"
    );
    // `check` still fails on it.
    let output = daemon.cli(&["check"]);
    assert_eq!(output.status.code(), Some(1));
    drop(daemon);

    let config = write_files("all-or-nothing", &[("fabrikam.example.zone", &broken)]);
    let dir = config.parent().unwrap();
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("all_or_nothing = true\n{text}")).unwrap();
    let (status, stderr) = common::Daemon::serve(&config).start_fails();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:8:",
            dir.join("fabrikam.example.zone").display()
        )),
        "{stderr}"
    );
}

/// The query log: one JSON line per query with the facts the issue lists, written by the
/// server's writer thread, and counted in /metrics.
#[test]
fn query_log_writes_json_lines() {
    let daemon = Daemon::start_with(
        "query-log",
        None,
        &[],
        "[query_log]\npath = \"queries.jsonl\"\nsample = 1\n",
    );
    daemon.a(EXTERNAL, Via::Tcp, "Mail.Contoso.Example.");
    let reply = common::ask(
        &daemon.server(),
        INTERNAL,
        Via::Udp,
        "nope.contoso.example.",
        RecordType::AAAA,
    );
    assert_eq!(reply.rcode(), ResponseCode::NXDomain);
    let path = daemon.dir.join("queries.jsonl");
    let deadline = Instant::now() + GENEROUS;
    let lines: Vec<serde_json::Value> = loop {
        let text = fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        if lines.iter().any(|l| l["name"] == "nope.contoso.example.") {
            break lines;
        }
        assert!(Instant::now() < deadline, "not logged:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let find = |name: &str| {
        lines
            .iter()
            .find(|l| l["name"] == name)
            .unwrap_or_else(|| panic!("{name} not logged: {lines:?}"))
            .clone()
    };
    let mail = find("Mail.Contoso.Example.");
    assert_eq!(mail["client"], "127.0.0.3");
    assert_eq!(mail["view"], "external");
    assert_eq!(mail["type"], "A");
    assert_eq!(mail["transport"], "tcp");
    assert_eq!(mail["outcome"], "answer");
    assert_eq!(mail["rcode"], "NOERROR");
    assert_eq!(mail["truncated"], false);
    assert!(mail["size"].as_u64().unwrap() > 40, "{mail}");
    assert!(mail["ts"].as_f64().unwrap() > 1.7e9, "{mail}");
    let nope = find("nope.contoso.example.");
    assert_eq!(
        (
            &nope["view"],
            &nope["type"],
            &nope["outcome"],
            &nope["rcode"],
            &nope["transport"]
        ),
        (
            &serde_json::json!("internal"),
            &serde_json::json!("AAAA"),
            &serde_json::json!("nxdomain"),
            &serde_json::json!("NXDOMAIN"),
            &serde_json::json!("udp")
        )
    );
    assert_eq!(nope["size"].as_u64().unwrap(), reply.size as u64);
    let metrics = http(daemon.control, "GET", "/metrics").1;
    let queued = format!(
        "splitdns_query_log_lines_total{{result=\"queued\"}} {}",
        lines.len()
    );
    assert!(
        metrics.contains(&queued)
            && metrics.contains("splitdns_query_log_lines_total{result=\"dropped\"} 0"),
        "{queued} not in\n{metrics}"
    );
}

/// A stop (SIGTERM) closes idle TCP connections but lets a query that is arriving be read,
/// answered and written before the connection closes; then the process exits 0.
#[test]
fn sigterm_finishes_the_tcp_answer_in_hand() {
    let mut daemon = Daemon::start("sigterm", None);
    let server = daemon.server();
    let query = common::query("mail.contoso.example.", RecordType::A);
    let framed = common::framed(&query.to_vec().unwrap());
    let mut busy = common::tcp_connect(&server, INTERNAL);
    busy.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut idle = common::tcp_connect(&server, EXTERNAL);
    idle.set_read_timeout(Some(GENEROUS)).unwrap();
    // The query has begun to arrive when the stop comes.
    busy.write_all(&framed[..5]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    daemon.signal("TERM");
    std::thread::sleep(Duration::from_millis(300));
    busy.write_all(&framed[5..]).unwrap();
    let reply = common::decode_reply(&query, &common::read_framed(&mut busy));
    assert_eq!(
        reply.answer(),
        ["mail.contoso.example. 300 A 10.0.0.11"],
        "{}",
        reply.dump()
    );
    // Then both connections are closed by the server.
    let mut rest = Vec::new();
    assert_eq!(busy.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(idle.read_to_end(&mut rest).unwrap(), 0);
    let deadline = Instant::now() + GENEROUS;
    loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            assert!(status.success(), "exit {status}:\n{}", daemon.log_text());
            break;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// TCP connections open and refused at the limit show in /metrics.
#[test]
fn tcp_connections_open_and_refused_are_counted() {
    let daemon = Daemon::start_with("tcp-limit", None, &[], "[tcp]\nmax_connections = 1\n");
    let server = daemon.server();
    let held = common::tcp_connect(&server, INTERNAL);
    // Give the accept loop time to take the first connection before the second arrives.
    let deadline = Instant::now() + GENEROUS;
    while !http(daemon.control, "GET", "/metrics")
        .1
        .contains("splitdns_tcp_connections_open 1")
    {
        assert!(
            Instant::now() < deadline,
            "the held connection is not counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut refused = common::tcp_connect(&server, EXTERNAL);
    refused.set_read_timeout(Some(GENEROUS)).unwrap();
    let mut rest = Vec::new();
    // Closed at once (a reset counts as closed too).
    assert_eq!(refused.read_to_end(&mut rest).unwrap_or(0), 0);
    let metrics = http(daemon.control, "GET", "/metrics").1;
    assert!(
        metrics.contains("splitdns_tcp_connections_total{result=\"refused\"} 1")
            && metrics.contains("splitdns_tcp_connections_open 1"),
        "{metrics}"
    );
    drop(held);
    let deadline = Instant::now() + GENEROUS;
    while !http(daemon.control, "GET", "/metrics")
        .1
        .contains("splitdns_tcp_connections_open 0")
    {
        assert!(
            Instant::now() < deadline,
            "the closed connection is still counted open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rate limiting's drops and slips are counted per view, and a slip counts as a truncated
/// response.
#[test]
fn rate_limited_responses_are_counted_per_view() {
    let daemon = Daemon::start_with(
        "rrl",
        None,
        &[],
        "[view.rrl]\nenabled = true\nresponses_per_second = 1\nslip = 2\nexempt = []\n",
    );
    let socket = UdpSocket::bind((EXTERNAL, 0)).unwrap();
    let query = common::query("www.contoso.example.", RecordType::A)
        .to_vec()
        .unwrap();
    for _ in 0..20 {
        socket.send_to(&query, daemon.dns).unwrap();
    }
    // Every verdict is counted once the loop has handled the query: wait for all 20.
    let deadline = Instant::now() + GENEROUS;
    let count = |metrics: &str, needle: &str| -> u64 {
        metrics
            .lines()
            .find(|line| line.starts_with(needle))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    loop {
        let metrics = http(daemon.control, "GET", "/metrics").1;
        let queries = count(
            &metrics,
            "splitdns_queries_total{view=\"external\",transport=\"udp\",family=\"ipv4\",qtype=\"A\"}",
        );
        if queries >= 20 {
            let dropped = count(
                &metrics,
                "splitdns_rate_limited_responses_total{view=\"external\",action=\"dropped\"}",
            );
            let slipped = count(
                &metrics,
                "splitdns_rate_limited_responses_total{view=\"external\",action=\"slipped\"}",
            );
            let truncated = count(
                &metrics,
                "splitdns_truncated_responses_total{view=\"external\",transport=\"udp\"}",
            );
            // At 1 response a second (plus the burst the bucket starts with), most of the 20
            // are limited; every second limited one slips.
            assert!(dropped >= 5 && slipped >= 5, "{metrics}");
            assert_eq!(truncated, slipped, "{metrics}");
            assert_eq!(
                count(
                    &metrics,
                    "splitdns_rate_limited_responses_total{view=\"internal\",action=\"dropped\"}"
                ),
                0
            );
            break;
        }
        assert!(Instant::now() < deadline, "queries not counted:\n{metrics}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Without a `[control]` section, `status` and `reload` say there is nothing to ask: `reload`
/// exits 1; `status`, a monitoring check, says UNKNOWN on standard output and exits 3.
#[test]
fn status_and_reload_without_a_control_listener_say_so() {
    let config = write_files("none", &[]);
    let text = fs::read_to_string(&config).unwrap();
    let without = text.split("[control]").next().unwrap().to_string();
    fs::write(&config, without).unwrap();
    for (command, code) in [("status", 3), ("reload", 1)] {
        let output = common::splitdns()
            .args([command, "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let said = match command {
            "status" => String::from_utf8_lossy(&output.stdout),
            _ => String::from_utf8_lossy(&output.stderr),
        };
        assert_eq!(output.status.code(), Some(code), "{command}: {said}");
        assert!(said.contains("no [control] listen"), "{command}: {said}");
    }
    let output = common::splitdns()
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).starts_with("SPLITDNS UNKNOWN - "),
        "{output:?}"
    );
}

/// The resolvers' and the health checks' metrics, from what real sockets on loopback do: an
/// upstream that never answers (a bound UDP socket nobody reads) is counted as timeouts and
/// skipped after three; of two checked addresses, the one with a listener is up and the one
/// without is down.
#[test]
fn metrics_show_upstream_results_and_health_states() {
    let Some(python) = python_with_prometheus() else {
        println!(
            "skipped: python3-prometheus-client is not installed (.ci/run installs it), so /metrics cannot be parsed"
        );
        return;
    };
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let check_port = free_port();
    let listening = std::net::TcpListener::bind(("127.0.0.21", check_port)).unwrap();
    let internal = format!("{INTERNAL_OVERRIDE}owa A 127.0.0.21\nowa A 127.0.0.22\n");
    let daemon = Daemon::start_with(
        "metrics-forward-health",
        None,
        &[("contoso.example.internal.zone", &internal)],
        &format!(
            "[[view]]\nname = \"resolving\"\nclients = [\"127.0.0.5/32\"]\nrecursion = true\n\
             forwarders = [\"{}\"]\n[view.resolver]\ntimeout = 0.3\n\n\
             [[health]]\nname = \"owa.contoso.example\"\nview = \"internal\"\nkind = \"tcp\"\nport = {check_port}\n\
             interval = 0.5\ntimeout = 0.3\nfall = 1\nrise = 1\n",
            dead.local_addr().unwrap()
        ),
    );
    let resolving: std::net::IpAddr = "127.0.0.5".parse().unwrap();
    let server = daemon.server();
    for i in 0..4 {
        // Not `common::ask`: that one insists on an authoritative-only server (RA clear).
        let query = common::query(&format!("n{i}.example.org."), RecordType::A);
        let reply = common::udp_raw(&server, resolving, &query.to_vec().unwrap());
        assert_eq!(
            reply[3] & 0x0f,
            2,
            "SERVFAIL: the only upstream never answers"
        );
    }
    let samples = |daemon: &Daemon| scrape(python, daemon.control, Format::Prometheus).1;
    let view = [("view", "resolving")];
    let result = |samples: &[Sample], result: &str| {
        value(
            samples,
            "splitdns_upstream_results_total",
            &[("view", "resolving"), ("result", result)],
        )
    };
    let after = samples(&daemon);
    // Four questions, one try each (one upstream): all timed out.
    assert_eq!(result(&after, "timeout"), 4.0);
    assert_eq!(result(&after, "noerror"), 0.0);
    assert_eq!(value(&after, "splitdns_upstreams_skipped", &view), 1.0);
    assert_eq!(value(&after, "splitdns_forward_loops_total", &view), 0.0);
    // The failures are cached (failure_ttl): one entry per question.
    assert_eq!(value(&after, "splitdns_cache_entries", &view), 4.0);
    assert!(value(&after, "splitdns_cache_bytes", &view) > 0.0);

    // The checks run every 0.5 s and one result changes a state: within a few seconds.
    let health = |samples: &[Sample], address: &str| {
        let port = check_port.to_string();
        samples
            .iter()
            .find(|s| {
                s.name == "splitdns_health_up"
                    && s.labels.get("address").map(String::as_str) == Some(address)
                    && s.labels.get("port") == Some(&port)
                    && s.labels.get("name").map(String::as_str) == Some("owa.contoso.example")
            })
            .map(|s| s.value)
    };
    let deadline = Instant::now() + GENEROUS;
    let mut states = (None, None);
    while Instant::now() < deadline {
        let now = samples(&daemon);
        states = (health(&now, "127.0.0.21"), health(&now, "127.0.0.22"));
        if states == (Some(1.0), Some(0.0)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        states,
        (Some(1.0), Some(0.0)),
        "127.0.0.21 listens, 127.0.0.22 does not:\n{}",
        daemon.log_text()
    );
    drop(listening);
}

/// Raises this process's soft limit on open files to `wanted` (or the hard limit, if lower):
/// a lock-out test holds well over a thousand sockets.
fn raise_fd_limit(wanted: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// A request on a fresh connection, timed: the status, the body and how long it took. A refused
/// or closed connection is status 0 (and the error as the body) rather than a panic.
fn timed_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let exchange = || -> std::io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        Ok(raw)
    };
    match exchange() {
        Ok(raw) if !raw.is_empty() => {
            let (code, body) = split_response(&raw);
            (code, body, started.elapsed())
        }
        Ok(_) => (0, "closed without an answer".into(), started.elapsed()),
        Err(e) => (0, e.to_string(), started.elapsed()),
    }
}

/// 1,000 idle connections and 200 that send their header a byte at a time (and
/// reconnect when closed, as a client bent on keeping the listener full would) do not lock the
/// control listener out: a fresh `GET /status`, `GET /metrics` and `splitdns reload` each succeed
/// within a second, and DNS answers meanwhile.
#[test]
fn control_listener_cannot_be_locked_out() {
    const IDLE: usize = 1000;
    const SLOW: usize = 200;
    raise_fd_limit(4096);
    let daemon = Daemon::start("lockout", None);
    let control = daemon.control;
    let connect = move || TcpStream::connect_timeout(&control, Duration::from_secs(2)).ok();

    let idle: Vec<TcpStream> = (0..IDLE).filter_map(|_| connect()).collect();
    assert!(
        idle.len() > IDLE * 9 / 10,
        "only {} idle connections",
        idle.len()
    );

    // The slow clients: one byte of `GET /status HTTP/1.1` per connection every 100 ms, a new
    // connection for each one the server closed. Bounded: it stops when told, or after 60 s.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (opened, slow_opened) = std::sync::mpsc::channel();
    let slow = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let head = b"GET /status HTTP/1.1\r\nX-Slow: ";
            let mut slow: Vec<(Option<TcpStream>, usize)> =
                (0..SLOW).map(|_| (connect(), 0)).collect();
            let _ = opened.send(());
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut reconnects = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                for (stream, sent) in &mut slow {
                    let byte = head.get(*sent).copied().unwrap_or(b'a');
                    let written = stream
                        .as_mut()
                        .is_some_and(|s| s.write_all(&[byte]).is_ok());
                    if written {
                        *sent += 1;
                    } else {
                        *stream = connect();
                        *sent = 0;
                        reconnects += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            reconnects
        }
    });
    // Let the slow clients open their connections and send a few bytes each.
    slow_opened
        .recv_timeout(GENEROUS)
        .expect("the slow clients connect");
    std::thread::sleep(Duration::from_millis(300));

    let mut failures = Vec::new();
    for path in ["/status", "/metrics"] {
        let (code, body, took) = timed_request(control, "GET", path);
        if code != 200 || took > Duration::from_secs(1) {
            failures.push(format!(
                "GET {path}: {code} after {took:?}: {}",
                body.trim()
            ));
        }
    }
    let started = Instant::now();
    let reload = daemon.cli(&["reload"]);
    let took = started.elapsed();
    if !reload.status.success() || took > Duration::from_secs(1) {
        failures.push(format!(
            "splitdns reload: {} after {took:?}: {}",
            reload.status,
            String::from_utf8_lossy(&reload.stderr).trim()
        ));
    }
    if !daemon.answers_within(INTERNAL, Duration::from_secs(1)) {
        failures.push("no DNS answer within 1 s".into());
    }

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reconnects = slow.join().unwrap();
    drop(idle);
    assert!(
        failures.is_empty(),
        "locked out ({reconnects} slow reconnects):\n{}",
        failures.join("\n")
    );
}

/// At the server's own file-descriptor limit: with its soft `RLIMIT_NOFILE` a
/// few above what it holds, connections that exhaust it neither make the accept loop spin (EMFILE
/// on every try) nor kill the listener: a fresh `GET /status` is answered within a second, DNS
/// answers, and the listener still works once the connections are gone.
#[test]
fn control_listener_survives_its_fd_limit() {
    let daemon = Daemon::start("fd-limit", None);
    let pid = daemon.child.id();
    let open = fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as libc::rlim_t;
    common::limit_open_files(pid, open + 16);

    // More connections than descriptors left: the server's accepts fail with EMFILE.
    let idle: Vec<TcpStream> = (0..100)
        .filter_map(|_| TcpStream::connect_timeout(&daemon.control, Duration::from_secs(2)).ok())
        .collect();
    assert!(idle.len() >= 90, "only {} connections", idle.len());
    std::thread::sleep(Duration::from_millis(200));

    let before = common::cpu_time(pid);
    std::thread::sleep(Duration::from_secs(1));
    let spent = common::cpu_time(pid) - before;

    let mut failures = Vec::new();
    if spent > Duration::from_millis(100) {
        failures.push(format!(
            "{spent:?} of CPU in one idle second: the accept loop spins"
        ));
    }
    let (code, body, took) = timed_request(daemon.control, "GET", "/status");
    if code != 200 || took > Duration::from_secs(1) {
        failures.push(format!(
            "GET /status: {code} after {took:?}: {}",
            body.trim()
        ));
    }
    if !daemon.answers_within(INTERNAL, Duration::from_secs(1)) {
        failures.push("no DNS answer within 1 s".into());
    }
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    let (code, body, took) = timed_request(daemon.control, "GET", "/status");
    if code != 200 {
        failures.push(format!(
            "GET /status once the connections closed: {code} after {took:?}: {}",
            body.trim()
        ));
    }
    assert!(
        failures.is_empty(),
        "at the fd limit ({} open, limit {}):\n{}\n{}",
        open,
        open + 16,
        failures.join("\n"),
        daemon.log_text()
    );
}

/// One raw request on a fresh connection: the status code of the answer (0 if the connection
/// closed without one) and the answer's first line.
fn raw_exchange(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the control listener");
    stream.set_read_timeout(Some(GENEROUS)).unwrap();
    let _ = stream.write_all(request.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let first = text.lines().next().unwrap_or_default().to_string();
    let code = first
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (code, first)
}

/// The `Host` rules of RFC 9112 §3.2 on the control listener. An HTTP/1.1
/// request without `Host`, with two, or with a malformed one gets 400; an absolute-form target's
/// authority is the host checked (the `Host` header is then ignored); on a loopback listener only
/// `localhost`, 127.0.0.0/8 and `[::1]`, with or without a port, are answered, anything else 403.
#[test]
fn control_host_header_follows_rfc_9112() {
    let daemon = Daemon::start("host-header", None);
    let control = daemon.control;
    let port = control.port();
    let get = |target: &str, headers: &str| {
        format!("GET {target} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n")
    };
    let cases: Vec<(&str, String, u16)> = vec![
        ("no Host", get("/status", ""), 400),
        (
            "two Host headers",
            get(
                "/status",
                &format!("Host: {control}\r\nHost: {control}\r\n"),
            ),
            400,
        ),
        (
            "two Host headers, one foreign",
            get(
                "/status",
                &format!("Host: {control}\r\nHost: evil.example\r\n"),
            ),
            400,
        ),
        ("an empty Host", get("/status", "Host: \r\n"), 400),
        (
            "a Host with userinfo",
            get("/status", "Host: admin@127.0.0.1\r\n"),
            400,
        ),
        (
            "a Host with a space",
            get("/status", "Host: 127.0.0.1 evil\r\n"),
            400,
        ),
        (
            "a Host with a bad port",
            get("/status", "Host: 127.0.0.1:x\r\n"),
            400,
        ),
        (
            "absolute-form for a foreign host, Host 127.0.0.1",
            get("http://evil.example/status", "Host: 127.0.0.1\r\n"),
            403,
        ),
        (
            "absolute-form for a foreign host with our port, Host ours",
            get(
                &format!("http://evil.example:{port}/status"),
                &format!("Host: {control}\r\n"),
            ),
            403,
        ),
        (
            "absolute-form for 127.0.0.1 with the port",
            get(
                &format!("http://127.0.0.1:{port}/status"),
                &format!("Host: {control}\r\n"),
            ),
            200,
        ),
        (
            "absolute-form for localhost, Host foreign (ignored)",
            get("http://localhost/status", "Host: evil.example\r\n"),
            200,
        ),
        (
            "absolute-form with userinfo",
            get(
                &format!("http://admin@127.0.0.1:{port}/status"),
                &format!("Host: {control}\r\n"),
            ),
            400,
        ),
        (
            "absolute-form without Host",
            get("http://127.0.0.1/status", ""),
            400,
        ),
        ("Host 127.0.0.1", get("/status", "Host: 127.0.0.1\r\n"), 200),
        (
            "Host 127.0.0.1:port",
            get("/status", &format!("Host: {control}\r\n")),
            200,
        ),
        ("Host localhost", get("/status", "Host: localhost\r\n"), 200),
        (
            "Host LocalHost:port",
            get("/status", &format!("Host: LocalHost:{port}\r\n")),
            200,
        ),
        ("Host [::1]", get("/status", "Host: [::1]\r\n"), 200),
        (
            "Host [::1]:port",
            get("/status", &format!("Host: [::1]:{port}\r\n")),
            200,
        ),
        (
            "Host 127.0.0.2 (loopback)",
            get("/status", "Host: 127.0.0.2\r\n"),
            200,
        ),
        (
            "Host evil.example",
            get("/status", "Host: evil.example\r\n"),
            403,
        ),
        (
            "Host localhost.evil.example",
            get(
                "/status",
                &format!("Host: localhost.evil.example:{port}\r\n"),
            ),
            403,
        ),
        ("Host 10.0.0.53", get("/status", "Host: 10.0.0.53\r\n"), 403),
        (
            "Host [::ffff:127.0.0.1]",
            get("/status", "Host: [::ffff:127.0.0.1]\r\n"),
            403,
        ),
        // HTTP/1.0 has no Host requirement (RFC 9112 §3.2 is about HTTP/1.1 requests).
        (
            "HTTP/1.0 without Host",
            "GET /status HTTP/1.0\r\n\r\n".to_string(),
            200,
        ),
        (
            "HTTP/1.0 with two Host headers",
            "GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n".to_string(),
            400,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, request, expected) in &cases {
        let (code, line) = raw_exchange(control, request);
        if code != *expected {
            wrong.push(format!("{what}: {line:?}, expected {expected}"));
        }
    }
    // The CLI still gets through (it sends `Host: 127.0.0.1:port`).
    let status = daemon.cli(&["status"]);
    if !status.status.success() {
        wrong.push(format!(
            "splitdns status: {}",
            String::from_utf8_lossy(&status.stderr)
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The alert rules docs/operations.md gives: every metric they read is one `/metrics` serves
/// (its `# TYPE` line is there even before it has a sample), and, where Debian's `prometheus`
/// package is installed, `promtool check rules` accepts them.
#[test]
fn the_guides_alert_rules_read_served_metrics() {
    let guide =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"))
            .unwrap();
    let rules = guide
        .split_once("### Alert rules")
        .and_then(|(_, rest)| rest.split_once("```yaml\n"))
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(yaml, _)| yaml.to_string())
        .expect("an Alert rules section with a yaml block in docs/operations.md");
    let exprs: Vec<&str> = rules
        .lines()
        .filter_map(|line| line.trim().strip_prefix("expr: "))
        .collect();
    assert!(exprs.len() >= 4, "{rules}");
    let daemon = Daemon::start("alert-rules", None);
    let metrics = http(daemon.control, "GET", "/metrics").1;
    for expr in &exprs {
        let names = expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("splitdns_"));
        for name in names {
            assert!(
                metrics.contains(&format!("# TYPE {name} ")),
                "the rule {expr:?} reads {name}, which /metrics does not serve:\n{metrics}"
            );
        }
    }
    let Some(promtool) = common::find_program("promtool") else {
        println!(
            "promtool not installed (Debian package prometheus): the rules' syntax is not checked"
        );
        return;
    };
    let file = daemon.dir.join("alerts.yml");
    fs::write(&file, &rules).unwrap();
    let output = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(output.status.success(), "promtool check rules: {output:?}");
}
