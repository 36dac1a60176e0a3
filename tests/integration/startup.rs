//! Start-up, judged against the real `splitdns` binary: nothing is announced
//! before everything is open. A query log whose directory is missing, or a control port another
//! process holds, stops the start with one error line and exit status 1, before any "serving on"
//! line and before READY=1 reaches the service manager (a `NOTIFY_SOCKET` the test binds itself,
//! as systemd would); `check` foresees the missing directory at the `path` key's `file:line`.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::{Daemon, scratch_dir, splitdns};

const CONFIG: &str = r#"[[view]]
name = "internal"
clients = ["10.0.0.0/8", "127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
"#;

const ZONE: &str = "$ORIGIN contoso.example.\n$TTL 3600\n\
@    SOA ns1 hostmaster ( 2026120701 3600 900 1209600 300 )\n\
\x20    NS  ns1\n\
ns1  A   203.0.113.53\n\
mail A   203.0.113.10\n";

/// The config (with `tail` appended) and its zone in the scratch directory `startup-{test}`.
fn write_config(test: &str, tail: &str) -> PathBuf {
    let dir = scratch_dir(&format!("startup-{test}"));
    fs::write(dir.join("contoso.example.zone"), ZONE).unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(&config, format!("{CONFIG}\n{tail}")).unwrap();
    config
}

/// A unix datagram socket standing in for systemd's notify socket, beside `config`.
fn notify_socket(config: &Path) -> (UnixDatagram, PathBuf) {
    let path = config.with_file_name("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    (socket, path)
}

/// Starts the server on `config` with `NOTIFY_SOCKET`, expecting it to refuse, and judges the
/// refusal: exit status 1, exactly one ERROR line (returned), no "serving on" line, and nothing
/// sent to the notify socket (the process has exited, so anything sent is queued there).
fn assert_refused_before_serving(builder: crate::common::DaemonBuilder, config: &Path) -> String {
    let (socket, path) = notify_socket(config);
    let (status, log) = builder.env("NOTIFY_SOCKET", &path).start_fails();
    assert_eq!(status.code(), Some(1), "{status}:\n{log}");
    assert!(
        !log.contains("serving on"),
        "announced serving before it failed:\n{log}"
    );
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{log}");
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 4096];
    if let Ok(len) = socket.recv(&mut buffer) {
        panic!(
            "sd_notify sent {:?} by a server that did not start:\n{log}",
            String::from_utf8_lossy(&buffer[..len])
        );
    }
    errors[0].to_string()
}

#[test]
fn a_missing_query_log_directory_refuses_the_start_before_serving() {
    let config = write_config(
        "query-log-dir",
        "[query_log]\npath = \"no-such-dir/queries.jsonl\"\n",
    );
    let error = assert_refused_before_serving(Daemon::serve(&config), &config);
    assert!(error.contains("no-such-dir"), "{error}");
}

#[test]
fn a_busy_control_port_refuses_the_start_before_serving() {
    let config = write_config("control-busy", "[control]\nlisten = \"127.0.0.1:0\"\n");
    let holder = TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let taken: SocketAddr = holder.local_addr().unwrap();
    let error = assert_refused_before_serving(Daemon::serve(&config).control_at(taken), &config);
    assert!(error.contains(&taken.to_string()), "{error}");
    drop(holder);
}

/// Once everything is open, "serving on" is logged and READY=1 sent: the same config with the
/// query log's directory created starts.
#[test]
fn with_everything_open_the_start_is_announced() {
    let config = write_config(
        "query-log-ok",
        "[query_log]\npath = \"logs/queries.jsonl\"\n",
    );
    fs::create_dir(config.with_file_name("logs")).unwrap();
    let (socket, path) = notify_socket(&config);
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let daemon = Daemon::serve(&config).env("NOTIFY_SOCKET", &path).spawn();
    let mut buffer = [0u8; 4096];
    let len = socket
        .recv(&mut buffer)
        .unwrap_or_else(|e| panic!("no READY=1: {e}\n{}", daemon.log_text()));
    let ready = String::from_utf8_lossy(&buffer[..len]).into_owned();
    assert!(ready.starts_with("READY=1\n"), "{ready:?}");
    let log = daemon.log_text();
    assert!(log.contains("serving on"), "READY=1 before serving:\n{log}");
    assert!(!log.contains("ERROR"), "{log}");
}

/// `check` foresees the missing directory, at the `path` key's line, and fails.
#[test]
fn check_names_a_missing_query_log_directory_at_its_line() {
    let config = write_config(
        "check-query-log-dir",
        "[query_log]\npath = \"no-such-dir/queries.jsonl\"\n",
    );
    let text = fs::read_to_string(&config).unwrap();
    let line = text.lines().position(|l| l.starts_with("path = ")).unwrap() + 1;
    let output = splitdns()
        .arg("check")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run splitdns check");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "check passed:\n{said}");
    let at = format!("{}:{line}:", config.display());
    assert!(
        said.lines()
            .any(|l| l.contains(&at) && l.contains("no-such-dir")),
        "no line at {at} naming the directory:\n{said}"
    );
}
