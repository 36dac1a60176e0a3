//! Serial notices where they matter, judged against the real `splitdns`
//! binary: an edit that leaves the SOA serial as it was gets a log line only in a view whose
//! serial someone follows — one with secondaries (here `notify`, to a plain UDP socket standing
//! in for a secondary) or under `serial_policy = "bump"`. A view nobody transfers, under the
//! default policy, is served its file's serial and logs nothing about it, whether a zone file or
//! an `[[exchange]]` block changed. Reloads are asked with `splitdns reload`, which returns once
//! the reload is done, so the log can be read at once.

use std::fs;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;

use hickory_proto::rr::{RData, RecordType};

use crate::common::{Daemon, EXTERNAL, INTERNAL, Via, ask, scratch_dir, splitdns};

const SERIAL: u32 = 2026120705;

/// Two views; `{notify}` is replaced by the internal view's `notify` line (or nothing).
const CONFIG: &str = r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8", "127.0.0.2/32"]
{notify}

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[exchange]]
namespace = "mail.contoso.example"
internal = ["10.0.0.11"]
external = ["203.0.113.10"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
"#;

fn config(notify: &str) -> String {
    CONFIG.replace("{notify}", notify)
}

fn zone(www: &str) -> String {
    format!(
        "$ORIGIN contoso.example.\n$TTL 3600\n\
         @    SOA ns1 hostmaster ( {SERIAL} 3600 900 1209600 300 )\n\
         \x20    NS  ns1\n\
         ns1  A   203.0.113.53\n\
         www  A   {www}\n"
    )
}

/// Writes the files into `serials-{test}` and starts the server with its control listener.
fn start(test: &str, notify: &str) -> Daemon {
    let dir = scratch_dir(&format!("serials-{test}"));
    fs::write(dir.join("contoso.example.zone"), zone("203.0.113.80")).unwrap();
    fs::write(dir.join("splitdns.toml"), config(notify)).unwrap();
    Daemon::serve(dir.join("splitdns.toml")).control().start()
}

/// Replaces `file` (saved by rename, as editors do) and has the server reload it now.
fn edit_and_reload(daemon: &Daemon, file: &str, text: &str) {
    let temporary = daemon.path(&format!(".{file}.tmp"));
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, daemon.path(file)).unwrap();
    reload(daemon.config());
}

fn reload(config: &Path) {
    let output = splitdns()
        .arg("reload")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run splitdns reload");
    assert!(
        output.status.success(),
        "splitdns reload failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The log lines that are serial notices for `view`'s copy of contoso.example.
fn notices(daemon: &Daemon, view: &str) -> Vec<String> {
    let about = format!("zone contoso.example. (view {view})");
    daemon
        .log_text()
        .lines()
        .filter(|line| line.contains(&about) && line.contains("serial"))
        .map(str::to_string)
        .collect()
}

fn serial(daemon: &Daemon, from: IpAddr) -> Option<u32> {
    let reply = ask(
        &daemon.server(),
        from,
        Via::Udp,
        "contoso.example.",
        RecordType::SOA,
    );
    reply.message.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// No secondaries and the default policy: an edit to the zone file and one to the `[[exchange]]`
/// block, each without a serial increase, are served with the file's serial and log no notice
/// (no "not above the one served", no "secondaries will not pick up the change").
#[test]
fn edits_without_secondaries_log_no_serial_notice() {
    let daemon = start("no-secondaries", "");
    edit_and_reload(&daemon, "contoso.example.zone", &zone("203.0.113.81"));
    // The config as the daemon runs it (with its control listener), one address changed.
    let text = fs::read_to_string(daemon.config()).unwrap();
    let edited = text.replace("\"203.0.113.10\"", "\"203.0.113.11\"");
    assert_ne!(edited, text);
    edit_and_reload(&daemon, "splitdns.toml", &edited);
    let log = daemon.log_text();
    let reloads = log
        .lines()
        .filter(|l| l.contains("reload on request: ok"))
        .count();
    assert_eq!(reloads, 2, "both reloads were not logged:\n{log}");
    for view in ["internal", "external"] {
        assert_eq!(notices(&daemon, view), Vec::<String>::new(), "{log}");
    }
    assert!(!log.contains("pick up the change"), "{log}");
    assert!(!log.contains("not above"), "{log}");
    assert_eq!(serial(&daemon, INTERNAL), Some(SERIAL));
    assert_eq!(serial(&daemon, EXTERNAL), Some(SERIAL));
}

/// The internal view has a secondary (`notify`): its edit without a serial increase is served
/// one past and says so, with what to set the file's serial to; the external view, which has
/// none, gets the same edit silently at the file's serial.
#[test]
fn a_view_with_a_secondary_still_gets_its_notice() {
    let secondary = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = secondary.local_addr().unwrap().port();
    let notify = format!(
        "notify = [\"{}\"]",
        SocketAddr::from(([127, 0, 0, 1], port))
    );
    let daemon = start("with-secondary", &notify);
    edit_and_reload(&daemon, "contoso.example.zone", &zone("203.0.113.81"));
    let log = daemon.log_text();
    let internal = notices(&daemon, "internal");
    assert_eq!(internal.len(), 1, "{log}");
    assert!(internal[0].contains("WARN"), "{}", internal[0]);
    assert!(
        internal[0].contains(&format!("serving serial {}", SERIAL + 1)),
        "{}",
        internal[0]
    );
    assert!(
        internal[0].contains(&format!("above {}", SERIAL + 1)),
        "the notice does not say what the file's serial must pass: {}",
        internal[0]
    );
    assert_eq!(notices(&daemon, "external"), Vec::<String>::new(), "{log}");
    assert_eq!(serial(&daemon, INTERNAL), Some(SERIAL + 1));
    assert_eq!(serial(&daemon, EXTERNAL), Some(SERIAL));
}
