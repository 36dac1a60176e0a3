//! An error refuses what it is about, not the whole server: a check finding of
//! severity error about one zone in one view holds back that view's copy of the zone, exactly as
//! a zone file that does not load does, while everything else is served. Judged against the real
//! `splitdns serve` over loopback, with its control listener, and the real `check`.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::{self, Daemon, EXTERNAL, INTERNAL, Via, scratch_dir, splitdns};

const SERIAL: u32 = 2026120701;

/// Three zones, shared by both views; the control port (0) is set to a free one at start.
const CONFIG: &str = r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8", "127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"

[[zone]]
origin = "fabrikam.example"
file = "fabrikam.example.zone"

[[zone]]
origin = "tailspin.example"
file = "tailspin.example.zone"

[control]
listen = "127.0.0.1:0"
"#;

/// A zone whose line 7 is `extra` (when given).
fn zone(origin: &str, serial: u32, www: &str, extra: &str) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 3600\n\
         @    SOA ns1 hostmaster ( {serial} 3600 900 1209600 300 )\n\
         \x20    NS  ns1\n\
         ns1  A   203.0.113.53\n\
         www  A   {www}\n\
         {extra}"
    )
}

/// Line 7 of fabrikam's shared file: an inside address, which the external view would publish.
const LEAK: &str = "intranet A 10.20.30.40\n";

/// The config and the three zones (fabrikam's given) in a fresh scratch directory.
fn write_files(test: &str, fabrikam: &str) -> PathBuf {
    let dir = scratch_dir(&format!("held-back-{test}"));
    for (name, text) in [
        ("splitdns.toml", CONFIG.to_string()),
        (
            "contoso.example.zone",
            zone("contoso.example", SERIAL, "203.0.113.80", ""),
        ),
        ("fabrikam.example.zone", fabrikam.to_string()),
        (
            "tailspin.example.zone",
            zone("tailspin.example", SERIAL, "192.0.2.80", ""),
        ),
    ] {
        fs::write(dir.join(name), text).unwrap();
    }
    dir.join("splitdns.toml")
}

/// Saved by rename, as editors do: the watcher sees one complete file.
fn save(dir: &Path, file: &str, text: &str) {
    let temporary = dir.join(format!(".{file}.tmp"));
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, dir.join(file)).unwrap();
}

/// The A records for `name` as `from` sees them over `via` (NOERROR expected).
fn a(daemon: &Daemon, from: IpAddr, via: Via, name: &str) -> Vec<String> {
    let reply = common::ask(&daemon.server(), from, via, name, RecordType::A);
    assert_eq!(reply.rcode(), ResponseCode::NoError, "{}", reply.dump());
    common::sorted(reply.answer())
}

fn rcode(daemon: &Daemon, from: IpAddr, via: Via, name: &str) -> ResponseCode {
    common::ask(&daemon.server(), from, via, name, RecordType::A).rcode()
}

/// One HTTP/1.1 GET with `Connection: close`: the body.
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the control listener");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    raw.split_once("\r\n\r\n")
        .map_or(String::new(), |(_, body)| body.to_string())
}

/// A zone of a view in `/status`.
fn zone_status(status: &serde_json::Value, view: &str, origin: &str) -> serde_json::Value {
    status["views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == view)
        .and_then(|v| {
            v["zones"]
                .as_array()
                .unwrap()
                .iter()
                .find(|z| z["origin"] == origin)
        })
        .cloned()
        .unwrap_or_else(|| panic!("no {origin} in view {view}: {status}"))
}

/// Runs `splitdns <args> --config <config>`.
fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    splitdns()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run splitdns")
}

/// At start: fabrikam's shared file has an inside address, which the external view would publish
/// (a `private-address-in-public-view` error). The server starts; contoso and tailspin are served
/// in both views and fabrikam in the internal one; the external view's fabrikam gets SERVFAIL, is
/// logged with its `file:line` and shown `unavailable`. `check` still exits 1, and with
/// `all_or_nothing = true` the start is refused.
#[test]
fn a_private_address_outside_holds_back_only_that_views_copy_at_start() {
    let config = write_files(
        "start",
        &zone("fabrikam.example", SERIAL, "198.51.100.80", LEAK),
    );
    let dir = config.parent().unwrap().to_path_buf();
    let at = format!("{}:7:", dir.join("fabrikam.example.zone").display());
    let daemon = Daemon::serve(&config).control().start();

    for via in common::BOTH {
        for from in [INTERNAL, EXTERNAL] {
            assert_eq!(
                a(&daemon, from, via, "www.contoso.example."),
                ["www.contoso.example. 3600 A 203.0.113.80"]
            );
            assert_eq!(
                a(&daemon, from, via, "www.tailspin.example."),
                ["www.tailspin.example. 3600 A 192.0.2.80"]
            );
        }
        assert_eq!(
            a(&daemon, INTERNAL, via, "intranet.fabrikam.example."),
            ["intranet.fabrikam.example. 3600 A 10.20.30.40"]
        );
        for name in ["www.fabrikam.example.", "intranet.fabrikam.example."] {
            assert_eq!(
                rcode(&daemon, EXTERNAL, via, name),
                ResponseCode::ServFail,
                "{name} outside over {via:?}"
            );
        }
    }

    let finding = daemon.wait_log(&[&at, "error[private-address-in-public-view]"]);
    eprintln!("logged: {finding}");
    let held = daemon.wait_log(&["fabrikam.example.", "view external", "not served"]);
    eprintln!("logged: {held}");

    let status: serde_json::Value =
        serde_json::from_str(&get(daemon.control(), "/status")).unwrap();
    let outside = zone_status(&status, "external", "fabrikam.example.");
    assert_eq!(outside["state"], "unavailable", "{status}");
    assert!(outside["serial"].is_null(), "{status}");
    assert!(
        outside["errors"][0].as_str().unwrap().starts_with(&at),
        "{status}"
    );
    assert_eq!(
        zone_status(&status, "internal", "fabrikam.example.")["state"],
        "ok",
        "{status}"
    );
    for (view, origin) in [
        ("internal", "contoso.example."),
        ("external", "contoso.example."),
        ("internal", "tailspin.example."),
        ("external", "tailspin.example."),
    ] {
        assert_eq!(
            zone_status(&status, view, origin)["state"],
            "ok",
            "{status}"
        );
    }
    let printed = String::from_utf8_lossy(&cli(&config, &["status"]).stdout).into_owned();
    assert!(
        printed.contains("fabrikam.example.: unavailable: held back, no previous data (SERVFAIL)"),
        "{printed}"
    );
    let metrics = get(daemon.control(), "/metrics");
    assert!(
        metrics.contains(
            "splitdns_zone_load_failed{view=\"external\",zone=\"fabrikam.example.\",served=\"none\"} 1"
        ) && !metrics.contains("splitdns_zone_load_failed{view=\"internal\"")
            && metrics.contains(
                "splitdns_zone_state{view=\"external\",zone=\"fabrikam.example.\",state=\"unavailable\"} 1"
            )
            && metrics.contains(
                "splitdns_zone_state{view=\"internal\",zone=\"fabrikam.example.\",state=\"ok\"} 1"
            ),
        "{metrics}"
    );

    let check = cli(&config, &["check"]);
    let printed = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(&format!("{at} error[private-address-in-public-view]")),
        "{printed}"
    );
    drop(daemon);

    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("all_or_nothing = true\n{text}")).unwrap();
    let (status, log) = Daemon::serve(&config).control().start_fails();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&at) && log.contains("private-address-in-public-view"),
        "{log}"
    );
}

/// At reload: one reload takes an edit that puts an inside address into fabrikam's shared file
/// and an edit of contoso. Contoso's change is published in both views, fabrikam's in the
/// internal view; the external view keeps fabrikam's previous data (`stale`): the inside address
/// never reaches the outside. Fixed, fabrikam's change is published outside too.
#[test]
fn a_reload_keeps_the_leaking_copy_stale_and_publishes_the_rest() {
    let config = write_files(
        "reload",
        &zone("fabrikam.example", SERIAL, "198.51.100.80", ""),
    );
    let dir = config.parent().unwrap().to_path_buf();
    let at = format!("{}:7:", dir.join("fabrikam.example.zone").display());
    let daemon = Daemon::serve(&config).control().start();
    assert_eq!(
        a(&daemon, EXTERNAL, Via::Udp, "www.fabrikam.example."),
        ["www.fabrikam.example. 3600 A 198.51.100.80"]
    );

    save(
        &dir,
        "fabrikam.example.zone",
        &zone("fabrikam.example", SERIAL + 1, "198.51.100.81", LEAK),
    );
    save(
        &dir,
        "contoso.example.zone",
        &zone("contoso.example", SERIAL + 1, "203.0.113.81", ""),
    );
    let output = cli(&config, &["reload"]);
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&at) && said.contains("private-address-in-public-view"),
        "{said}"
    );

    for via in common::BOTH {
        for from in [INTERNAL, EXTERNAL] {
            assert_eq!(
                a(&daemon, from, via, "www.contoso.example."),
                ["www.contoso.example. 3600 A 203.0.113.81"],
                "contoso's change is published"
            );
            assert_eq!(
                a(&daemon, from, via, "www.tailspin.example."),
                ["www.tailspin.example. 3600 A 192.0.2.80"]
            );
        }
        assert_eq!(
            a(&daemon, INTERNAL, via, "www.fabrikam.example."),
            ["www.fabrikam.example. 3600 A 198.51.100.81"],
            "the internal view's copy has no error: published"
        );
        assert_eq!(
            a(&daemon, INTERNAL, via, "intranet.fabrikam.example."),
            ["intranet.fabrikam.example. 3600 A 10.20.30.40"]
        );
        assert_eq!(
            a(&daemon, EXTERNAL, via, "www.fabrikam.example."),
            ["www.fabrikam.example. 3600 A 198.51.100.80"],
            "the external view keeps fabrikam's previous data"
        );
        assert_eq!(
            rcode(&daemon, EXTERNAL, via, "intranet.fabrikam.example."),
            ResponseCode::NXDomain,
            "the inside address must not reach the outside"
        );
    }

    let status: serde_json::Value =
        serde_json::from_str(&get(daemon.control(), "/status")).unwrap();
    let outside = zone_status(&status, "external", "fabrikam.example.");
    assert_eq!(outside["state"], "stale", "{status}");
    assert_eq!(outside["serial"], SERIAL, "{status}");
    assert!(
        outside["errors"][0].as_str().unwrap().starts_with(&at),
        "{status}"
    );
    let inside = zone_status(&status, "internal", "fabrikam.example.");
    assert_eq!(inside["state"], "ok", "{status}");
    assert_eq!(inside["serial"], SERIAL + 1, "{status}");
    assert_eq!(
        zone_status(&status, "external", "contoso.example.")["serial"],
        SERIAL + 1,
        "{status}"
    );
    assert_eq!(status["last_reload"]["applied"], true, "{status}");
    assert_eq!(status["last_reload"]["ok"], false, "{status}");
    let metrics = get(daemon.control(), "/metrics");
    assert!(
        metrics.contains(
            "splitdns_zone_load_failed{view=\"external\",zone=\"fabrikam.example.\",served=\"previous\"} 1"
        ),
        "{metrics}"
    );

    // Fixed: the outside gets fabrikam's change too, and the reload says all is well.
    save(
        &dir,
        "fabrikam.example.zone",
        &zone("fabrikam.example", SERIAL + 2, "198.51.100.82", ""),
    );
    let output = cli(&config, &["reload"]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        a(&daemon, EXTERNAL, Via::Tcp, "www.fabrikam.example."),
        ["www.fabrikam.example. 3600 A 198.51.100.82"]
    );
    assert!(!get(daemon.control(), "/metrics").contains("splitdns_zone_load_failed{"));
}

/// A copy held back twice in one reload — its new data fails the checks, and so does its previous
/// data under the new config (the bundled example's internal view made public: its override and
/// its Client Access servers hold inside addresses) — is one failure: each error is said once,
/// in the reload's errors and in the zone's.
#[test]
fn a_copy_held_back_twice_says_each_error_once() {
    let dir = common::scratch_copy("held-back-twice", &common::example_dir());
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let text = fs::read_to_string(daemon.config()).unwrap();
    let public = text.replacen(
        "name = \"internal\"\n",
        "name = \"internal\"\npublic = true\n",
        1,
    );
    assert_ne!(public, text);
    save(&dir, "splitdns.toml", &public);
    let output = cli(daemon.config(), &["reload"]);
    assert_eq!(output.status.code(), Some(1));
    // In the bundled example the inside is 127.0.0.1 (127.0.0.2 is outside).
    let inside: IpAddr = [127, 0, 0, 1].into();
    assert_eq!(
        rcode(&daemon, inside, Via::Udp, "mail.contoso.example."),
        ResponseCode::ServFail,
        "the internal copy fails the checks under the new config, old data and new"
    );
    let status: serde_json::Value =
        serde_json::from_str(&get(daemon.control(), "/status")).unwrap();
    let once = |errors: &serde_json::Value, what: &str| {
        let errors: Vec<&str> = errors
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(!errors.is_empty(), "{what}: no errors");
        for (i, error) in errors.iter().enumerate() {
            assert!(!errors[..i].contains(error), "{what}: said twice: {error}");
        }
    };
    once(&status["last_reload"]["errors"], "the reload's errors");
    once(
        &zone_status(&status, "internal", "contoso.example.")["errors"],
        "the zone's errors",
    );
}
