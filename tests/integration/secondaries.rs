//! Replication to real secondaries: the `splitdns` binary serves
//! `tests/fixtures/transfer` on a free loopback port and NOTIFYs; BIND (`named`, one server with
//! two keyed views mirroring both of ours), Knot (`knotd`, the internal view) and NSD (`nsd`, the
//! external view) are started on other free loopback ports as its secondaries, each configured
//! with what `splitdns secondary-config` prints, pasted under a minimal header that keeps it on
//! loopback (no port 53, no recursion, no NOTIFYs of its own, no control channel).
//!
//! Each test: the secondary's initial transfer, then every name and type of the view's zone asked
//! of both (over TCP) with the same answer expected; then an edit to an override file, after
//! which the secondary must serve the change within a few seconds (NOTIFY, then IXFR — our log
//! says the transfer was incremental), while a secondary of the other view stays as it was. A
//! test whose program is missing prints why and passes.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use std::io::{Read, Write};

use socket2::{Domain, Protocol, Socket, Type};

use crate::common::{
    Daemon, EXTERNAL, INTERNAL, find_program, fixture_dir, framed, free_port, render, scratch_copy,
    splitdns,
};

/// Start-up, initial transfer, and the other bounded waits.
const GENEROUS: Duration = Duration::from_secs(20);
/// The promise: a change reaches the secondary within a few seconds.
const FEW_SECONDS: Duration = Duration::from_secs(5);

fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "secondaries: {line}");
}

/// A child process with its log; killed on drop, the log printed if the test failed.
pub(crate) struct Process {
    child: Child,
    log: PathBuf,
    pub(crate) name: &'static str,
}

impl Process {
    fn start(name: &'static str, mut command: Command, log: PathBuf) -> Process {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create a log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Process { child, log, name }
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log_text());
        }
    }
}

/// The fixture in the scratch directory `test`, with each view's `notify` list set, served by
/// the real binary ([`Daemon`]) on a free port.
fn start_splitdns(test: &str, notify: &[(&str, u16)]) -> Daemon {
    start_splitdns_with(test, notify, "")
}

/// [`start_splitdns`], with `view_lines` added to each view that sends NOTIFYs.
fn start_splitdns_with(test: &str, notify: &[(&str, u16)], view_lines: &str) -> Daemon {
    let dir = scratch_copy(test, &fixture_dir("transfer"));
    let config = dir.join("splitdns.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    for (view, secondary) in notify {
        let acl = format!("transfer = {{ keys = [\"{view}-xfr\"]");
        let at = text.find(&acl).expect("the fixture's transfer line");
        let line_end = at + text[at..].find('\n').unwrap();
        text.insert_str(
            line_end + 1,
            &format!("notify = [\"127.0.0.1:{secondary}\"]\n{view_lines}"),
        );
    }
    fs::write(&config, text).unwrap();
    let daemon = Daemon::serve(&config).start();
    wait_for(
        "splitdns to answer",
        || soa_serial(daemon.dns, INTERNAL).is_some(),
        &daemon,
    );
    daemon
}

/// A plain UDP socket standing in for a secondary that NOTIFYs are sent to, and its port.
fn stand_in_secondary() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// `splitdns secondary-config` for one view (or several, separated by spaces: one BIND server
/// mirroring them).
fn secondary_config(dir: &Path, view: &str, software: &str, primary: u16) -> String {
    let mut command = splitdns();
    command
        .arg("secondary-config")
        .arg("--config")
        .arg(dir.join("splitdns.toml"));
    for view in view.split(' ') {
        command.arg("--view").arg(view);
    }
    let output = command
        .arg("--for")
        .arg(software)
        .arg("--primary")
        .arg(format!("127.0.0.1:{primary}"))
        .output()
        .expect("run splitdns secondary-config");
    assert!(
        output.status.success(),
        "secondary-config failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Knot (`knotd`) on 127.0.0.1 port `theirs`, a secondary of our `view` on port `ours` (the
/// config in `dir`), configured with what `splitdns secondary-config` prints; `template` adds
/// lines (each indented four spaces) to the default zone template.
pub(crate) fn start_knot(
    knotd: &Path,
    dir: &Path,
    view: &str,
    ours: u16,
    theirs: u16,
    template: &str,
) -> Process {
    let stanza = secondary_config(dir, view, "knot", ours);
    let knot_dir = dir.join("knot");
    fs::create_dir_all(knot_dir.join("db")).unwrap();
    let d = knot_dir.display();
    let config = format!(
        "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{theirs}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
         database:\n    storage: \"{d}/db\"\n\
         log:\n  - target: stderr\n    any: info\n\
         template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n{template}\n{stanza}"
    );
    fs::write(knot_dir.join("knot.conf"), config).unwrap();
    let mut command = Command::new(knotd);
    command.arg("--config").arg(knot_dir.join("knot.conf"));
    Process::start("knotd", command, knot_dir.join("knot.log"))
}

/// NSD on 127.0.0.1 port `theirs`, a secondary of our `view` on port `ours` (the config in
/// `dir`), configured with what `splitdns secondary-config` prints.
pub(crate) fn start_nsd(nsd: &Path, dir: &Path, view: &str, ours: u16, theirs: u16) -> Process {
    let stanza = secondary_config(dir, view, "nsd", ours);
    let nsd_dir = dir.join("nsd");
    fs::create_dir_all(&nsd_dir).unwrap();
    let d = nsd_dir.display();
    let config = format!(
        "server:\n    ip-address: 127.0.0.1@{theirs}\n    server-count: 1\n    username: \"\"\n    chroot: \"\"\n    \
         zonesdir: \"{d}\"\n    database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    \
         xfrdir: \"{d}\"\n    pidfile: \"{d}/nsd.pid\"\n    verbosity: 2\n    rrl-ratelimit: 0\n\
         remote-control:\n    control-enable: no\n\n{stanza}"
    );
    fs::write(nsd_dir.join("nsd.conf"), config).unwrap();
    let mut command = Command::new(nsd);
    command.arg("-d").arg("-c").arg(nsd_dir.join("nsd.conf"));
    Process::start("nsd", command, nsd_dir.join("nsd.log"))
}

/// BIND (`named`) on 127.0.0.1 port `theirs`: one server with two views mirroring our internal
/// and external views on port `ours` (the config in `dir`), configured with what
/// `splitdns secondary-config` prints.
pub(crate) fn start_bind(named: &Path, dir: &Path, ours: u16, theirs: u16) -> Process {
    // One config for both views, the catch-all external view first: BIND takes the first view
    // that matches, and the config must pick the views splitdns does whatever their order.
    let both = secondary_config(dir, "external internal", "bind", ours);
    let bind_dir = dir.join("bind");
    fs::create_dir_all(&bind_dir).unwrap();
    let d = bind_dir.display();
    // Loopback only, no recursion, no NOTIFYs of its own (they would go to the zones' NS
    // addresses), no DNSSEC trust anchors to fetch, no control channel.
    let config = format!(
        "options {{\n\tdirectory \"{d}\";\n\tpid-file \"{d}/named.pid\";\n\tsession-keyfile \"{d}/session.key\";\n\t\
         managed-keys-directory \"{d}\";\n\tlisten-on port {theirs} {{ 127.0.0.1; }};\n\tlisten-on-v6 {{ none; }};\n\t\
         recursion no;\n\tnotify no;\n\tdnssec-validation no;\n\tminimal-responses yes;\n}};\ncontrols {{ }};\n\n{both}"
    );
    fs::write(bind_dir.join("named.conf"), config).unwrap();
    let mut command = Command::new(named);
    command.arg("-g").arg("-c").arg(bind_dir.join("named.conf"));
    Process::start("named", command, bind_dir.join("named.log"))
}

/// A program whose log a failure shows: a secondary ([`Process`]) or splitdns ([`Daemon`]).
pub(crate) trait Logged {
    fn name(&self) -> &str;
    fn log_text(&self) -> String;
}

impl Logged for Process {
    fn name(&self) -> &str {
        self.name
    }
    fn log_text(&self) -> String {
        Process::log_text(self)
    }
}

impl Logged for Daemon {
    fn name(&self) -> &str {
        "splitdns"
    }
    fn log_text(&self) -> String {
        Daemon::log_text(self)
    }
}

pub(crate) fn wait_for(what: &str, mut done: impl FnMut() -> bool, log_of: &dyn Logged) {
    let deadline = Instant::now() + GENEROUS;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "waited {GENEROUS:?} for {what}; {} log:\n{}",
            log_of.name(),
            log_of.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asks `server` over TCP from `from`; `None` if it does not answer.
fn ask(server: SocketAddr, from: IpAddr, name: &str, rtype: RecordType) -> Option<Message> {
    let mut query = Message::query();
    query.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let bytes = query.to_vec().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).ok()?;
    socket.bind(&SocketAddr::new(from, 0).into()).ok()?;
    socket
        .connect_timeout(&server.into(), Duration::from_secs(2))
        .ok()?;
    let mut stream: std::net::TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(&framed(&bytes)).ok()?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).ok()?;
    let mut raw = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut raw).ok()?;
    Message::from_vec(&raw).ok()
}

fn soa_serial(server: SocketAddr, from: IpAddr) -> Option<u32> {
    zone_serial(server, from, "contoso.example.")
}

pub(crate) fn zone_serial(server: SocketAddr, from: IpAddr, zone: &str) -> Option<u32> {
    let reply = ask(server, from, zone, RecordType::SOA)?;
    if reply.metadata.response_code != ResponseCode::NoError {
        return None;
    }
    reply.answers.iter().find_map(|r| match &r.data {
        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// The rcode and the answer section (lowercased, sorted).
fn answer(server: SocketAddr, from: IpAddr, name: &str, rtype: RecordType) -> String {
    match ask(server, from, name, rtype) {
        None => "no answer".into(),
        Some(reply) => {
            let records: BTreeSet<String> = reply
                .answers
                .iter()
                .map(|r| render(r).to_lowercase())
                .collect();
            format!("{:?} {records:?}", reply.metadata.response_code)
        }
    }
}

/// Every name and type of a view's zone as our loader has it.
fn questions(dir: &Path, view: &str) -> Vec<(String, RecordType)> {
    let loaded = splitdns::load(&dir.join("splitdns.toml")).unwrap();
    let view = loaded
        .snapshot
        .views
        .iter()
        .find(|v| v.name == view)
        .unwrap();
    let mut out = Vec::new();
    for zone in &view.zones {
        for (key, node) in zone.nodes() {
            let name = crate::common::wire_name_text(key);
            for rtype in [RecordType::A, RecordType::SOA] {
                out.push((name.clone(), rtype));
            }
            for set in node.rrsets.iter() {
                out.push((name.clone(), RecordType::from(set.rtype)));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, u16::from(a.1)).cmp(&(&b.0, u16::from(b.1))));
    out.dedup();
    out
}

/// Every question answered the same by the secondary (asked from `theirs_from`) as by our view
/// (asked from `ours_from`), once the secondary serves every zone at our serial.
fn assert_mirrors(
    dir: &Path,
    view: &str,
    ours: (SocketAddr, IpAddr),
    theirs: (SocketAddr, IpAddr),
    secondary: &Process,
) {
    for zone in ["contoso.example.", "fabrikam.example."] {
        let serial = zone_serial(ours.0, ours.1, zone);
        assert!(serial.is_some(), "we do not serve {zone}");
        wait_for(
            &format!("{} to serve {zone} at serial {serial:?}", secondary.name),
            || zone_serial(theirs.0, theirs.1, zone) == serial,
            secondary,
        );
    }
    let mut differences = Vec::new();
    let questions = questions(dir, view);
    assert!(questions.len() > 20, "{questions:?}");
    for (name, rtype) in &questions {
        let a = answer(ours.0, ours.1, name, *rtype);
        let b = answer(theirs.0, theirs.1, name, *rtype);
        if a != b {
            differences.push(format!("{name} {rtype}:\n  ours   {a}\n  theirs {b}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} answers differ ({view}, {}):\n{}\n{} log:\n{}",
        differences.len(),
        questions.len(),
        secondary.name,
        differences.join("\n"),
        secondary.name,
        secondary.log_text()
    );
}

/// Replaces `from` with `to` in an override file by writing a new file and renaming it into
/// place, as editors do.
fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    let temporary = dir.join(format!("{file}.new"));
    fs::write(&temporary, text.replace(from, to)).unwrap();
    fs::rename(&temporary, &path).unwrap();
}

/// Waits (at most [`FEW_SECONDS`] after the edit) until the secondary answers `name A` with
/// `address`.
fn assert_follows(secondary: (SocketAddr, IpAddr), name: &str, address: &str, log: &Process) {
    let edited = Instant::now();
    loop {
        if answer(secondary.0, secondary.1, name, RecordType::A).contains(address) {
            say(&format!(
                "{} served the edit after {:?}",
                log.name,
                edited.elapsed()
            ));
            return;
        }
        assert!(
            edited.elapsed() < FEW_SECONDS,
            "{} did not serve {name} A {address} within {FEW_SECONDS:?}; its log:\n{}",
            log.name,
            log.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Our log says the change went by IXFR, as a difference, to the view's secondary.
fn assert_incremental(splitdns: &Daemon, view: &str) {
    wait_for(
        &format!("an incremental IXFR of view {view} in our log"),
        || {
            splitdns.log_text().lines().any(|line| {
                line.contains("IXFR (incremental) of contoso.example.")
                    && line.contains(&format!("(view {view})"))
            })
        },
        splitdns,
    );
}

#[test]
fn knot_mirrors_the_internal_view_and_follows_an_edit_by_notify_and_ixfr() {
    let Some(knotd) = find_program("knotd") else {
        say("skipped: knotd not found (apt-get install knot)");
        return;
    };
    let theirs = free_port();
    let splitdns = start_splitdns("secondaries/knot", &[("internal", theirs)]);
    let (dir, ours) = (splitdns.dir().to_path_buf(), splitdns.port());
    let knot = start_knot(&knotd, &dir, "internal", ours, theirs, "");
    let serial = soa_serial(local(ours), INTERNAL).unwrap();
    wait_for(
        "knot's initial transfer",
        || soa_serial(local(theirs), EXTERNAL) == Some(serial),
        &knot,
    );
    assert_mirrors(
        &dir,
        "internal",
        (local(ours), INTERNAL),
        (local(theirs), EXTERNAL),
        &knot,
    );

    edit(
        &dir,
        "contoso.example.internal.zone",
        "10.0.0.13",
        "10.0.0.23",
    );
    assert_follows(
        (local(theirs), EXTERNAL),
        "mail.contoso.example.",
        "10.0.0.23",
        &knot,
    );
    assert_incremental(&splitdns, "internal");
    // Knot's own account: the change came by IXFR.
    wait_for(
        "knot to log an incoming IXFR",
        || {
            knot.log_text().lines().any(|line| {
                line.contains("[contoso.example.] IXFR, incoming") && line.contains("finished")
            })
        },
        &knot,
    );
    assert_eq!(soa_serial(local(theirs), EXTERNAL), Some(serial + 1));
    assert_mirrors(
        &dir,
        "internal",
        (local(ours), INTERNAL),
        (local(theirs), EXTERNAL),
        &knot,
    );
}

#[test]
fn nsd_mirrors_the_external_view_and_ignores_an_internal_edit() {
    let Some(nsd) = find_program("nsd") else {
        say("skipped: nsd not found (apt-get install nsd)");
        return;
    };
    let theirs = free_port();
    let splitdns = start_splitdns("secondaries/nsd", &[("external", theirs)]);
    let (dir, ours) = (splitdns.dir().to_path_buf(), splitdns.port());
    let nsd = start_nsd(&nsd, &dir, "external", ours, theirs);
    let serial = soa_serial(local(ours), EXTERNAL).unwrap();
    wait_for(
        "nsd's initial transfer",
        || soa_serial(local(theirs), INTERNAL) == Some(serial),
        &nsd,
    );
    assert_mirrors(
        &dir,
        "external",
        (local(ours), EXTERNAL),
        (local(theirs), INTERNAL),
        &nsd,
    );

    // An internal edit: our internal view changes, the external one and its secondary do not.
    edit(
        &dir,
        "contoso.example.internal.zone",
        "10.0.0.13",
        "10.0.0.23",
    );
    wait_for(
        "the internal serial to change",
        || soa_serial(local(ours), INTERNAL) == Some(serial + 1),
        &splitdns,
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(soa_serial(local(ours), EXTERNAL), Some(serial));
    assert_eq!(soa_serial(local(theirs), INTERNAL), Some(serial));
    assert_mirrors(
        &dir,
        "external",
        (local(ours), EXTERNAL),
        (local(theirs), INTERNAL),
        &nsd,
    );

    // An external edit reaches it by NOTIFY and IXFR.
    edit(
        &dir,
        "contoso.example.external.zone",
        "203.0.113.10",
        "203.0.113.11",
    );
    assert_follows(
        (local(theirs), INTERNAL),
        "mail.contoso.example.",
        "203.0.113.11",
        &nsd,
    );
    assert_incremental(&splitdns, "external");
}

#[test]
fn bind_mirrors_both_views_with_keyed_views_and_follows_an_internal_edit() {
    let Some(named) = find_program("named") else {
        say("skipped: named not found (apt-get install bind9)");
        return;
    };
    let theirs = free_port();
    let splitdns = start_splitdns(
        "secondaries/bind",
        &[("internal", theirs), ("external", theirs)],
    );
    let (dir, ours) = (splitdns.dir().to_path_buf(), splitdns.port());
    let bind = start_bind(&named, &dir, ours, theirs);
    let serial = soa_serial(local(ours), INTERNAL).unwrap();
    wait_for(
        "BIND's initial transfers",
        || {
            soa_serial(local(theirs), INTERNAL) == Some(serial)
                && soa_serial(local(theirs), EXTERNAL) == Some(serial)
        },
        &bind,
    );
    for (view, from) in [("internal", INTERNAL), ("external", EXTERNAL)] {
        assert_mirrors(
            &dir,
            view,
            (local(ours), from),
            (local(theirs), from),
            &bind,
        );
    }

    edit(
        &dir,
        "contoso.example.internal.zone",
        "10.0.0.13",
        "10.0.0.23",
    );
    assert_follows(
        (local(theirs), INTERNAL),
        "mail.contoso.example.",
        "10.0.0.23",
        &bind,
    );
    assert_incremental(&splitdns, "internal");
    assert_eq!(soa_serial(local(theirs), INTERNAL), Some(serial + 1));
    assert_eq!(soa_serial(local(theirs), EXTERNAL), Some(serial));
    for (view, from) in [("internal", INTERNAL), ("external", EXTERNAL)] {
        assert_mirrors(
            &dir,
            view,
            (local(ours), from),
            (local(theirs), from),
            &bind,
        );
    }
}

/// NOTIFY as a secondary sees it, from a plain UDP socket standing in for one: at start, one per
/// zone of the view, opcode NOTIFY with AA, the zone's SOA as question and answer, signed with
/// the view's key (verified with hickory-proto); unanswered, it is sent again after about a
/// second, signed afresh; answered, it stops.
#[test]
fn notify_is_signed_retried_until_answered_and_then_stops() {
    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::TSigner;
    use hickory_proto::rr::rdata::tsig::TsigAlgorithm;

    let (secondary, theirs) = stand_in_secondary();
    let splitdns = start_splitdns("secondaries/notify", &[("internal", theirs)]);
    let ours = splitdns.port();
    let signer = TSigner::new(
        data_encoding::BASE64
            .decode(b"4O4ZDNVr4e383EU+j9Zus55K9fcRPRXP0K7mY2H1Yz0=")
            .unwrap(),
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("internal-xfr.").unwrap(),
        300,
    )
    .unwrap();
    let serial = soa_serial(local(ours), INTERNAL).unwrap();

    // Receives NOTIFYs for contoso.example until `until`, checking each; returns their arrival
    // times and the last one's sender and ID.
    let receive = |until: Instant| {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            let Ok((len, from)) = secondary.recv_from(&mut buf) else {
                continue;
            };
            let raw = &buf[..len];
            signer
                .verify_message_byte(raw, None, true)
                .unwrap_or_else(|e| panic!("NOTIFY not signed with internal-xfr: {e}"));
            let message = Message::from_vec(raw).unwrap();
            assert_eq!(message.metadata.op_code, OpCode::Notify);
            assert_eq!(message.metadata.message_type, MessageType::Query);
            assert!(message.metadata.authoritative);
            let zone = message.queries[0].name().to_string().to_lowercase();
            if zone != "contoso.example." {
                continue;
            }
            assert_eq!(message.queries[0].query_type(), RecordType::SOA);
            let announced = message.answers.iter().find_map(|r| match &r.data {
                hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
                _ => None,
            });
            assert_eq!(announced, Some(serial));
            seen.push((Instant::now(), from, message.metadata.id));
        }
        seen
    };
    let unanswered = receive(Instant::now() + Duration::from_millis(2500));
    assert!(
        unanswered.len() >= 2,
        "expected a retry within 2.5 s: {unanswered:?}\n{}",
        splitdns.log_text()
    );
    let gap = unanswered[1].0 - unanswered[0].0;
    assert!(
        gap >= Duration::from_millis(800) && gap <= Duration::from_millis(1800),
        "retry after {gap:?}"
    );
    // Answer the last one: NOERROR, unsigned (so splitdns says the answer was not signed).
    let (_, from, id) = *unanswered.last().unwrap();
    let mut reply = Message::query();
    reply.metadata.id = id;
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.op_code = OpCode::Notify;
    reply.add_query(Query::query(
        Name::from_ascii("contoso.example.").unwrap(),
        RecordType::SOA,
    ));
    secondary.send_to(&reply.to_vec().unwrap(), from).unwrap();
    wait_for(
        "splitdns to log the unsigned answer",
        || {
            splitdns.log_text().lines().any(|line| {
                line.contains("NOTIFY for contoso.example.")
                    && line.contains("without a valid signature by key internal-xfr")
            })
        },
        &splitdns,
    );
    let after = receive(Instant::now() + Duration::from_secs(3));
    assert!(
        after.is_empty(),
        "NOTIFY sent again after an answer: {after:?}"
    );
}

/// A `contoso.example.` query of `rtype`, signed with `key` and a secret that is not its own.
fn wrongly_signed(key: &str, rtype: RecordType) -> Vec<u8> {
    use hickory_proto::rr::TSigner;
    use hickory_proto::rr::rdata::tsig::TsigAlgorithm;

    let wrong = TSigner::new(
        b"not the secret".to_vec(),
        TsigAlgorithm::HmacSha256,
        Name::from_ascii(key).unwrap(),
        300,
    )
    .unwrap();
    let mut query = Message::query();
    query.add_query(Query::query(
        Name::from_ascii("contoso.example.").unwrap(),
        rtype,
    ));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    query.finalize(&wrong, now).unwrap();
    query.to_vec().unwrap()
}

/// A transfer signed with a wrong secret over TCP is answered NOTAUTH and leaves a line in the
/// log that says what is wrong, so the admin setting up a secondary sees it.
#[test]
fn a_tsig_failure_over_tcp_is_logged() {
    let splitdns = start_splitdns("secondaries/tsig-log", &[]);
    let ours = splitdns.port();
    let bytes = wrongly_signed("internal-xfr.", RecordType::AXFR);
    let mut stream = std::net::TcpStream::connect(local(ours)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    stream.write_all(&framed(&bytes)).unwrap();
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).unwrap();
    let mut raw = vec![0u8; u16::from_be_bytes(length) as usize];
    stream.read_exact(&mut raw).unwrap();
    let reply = Message::from_vec(&raw).unwrap();
    assert_eq!(reply.metadata.response_code, ResponseCode::NotAuth);
    assert!(reply.answers.is_empty());
    wait_for(
        "the TSIG failure in the log",
        || {
            splitdns.log_text().lines().any(|line| {
                line.contains("TSIG BADSIG (wrong secret?)") && line.contains("127.0.0.1")
            })
        },
        &splitdns,
    );
}

/// A secondary with a wrong secret retries for hours, and anyone who can reach the TCP port can
/// send badly signed requests: the log line is rate-limited per key and source,
/// across connections, so twenty failures from one source with one key leave one line, while
/// another key or another source still gets its own.
#[test]
fn tsig_failure_lines_are_rate_limited_per_key_and_source() {
    let splitdns = start_splitdns("secondaries/tsig-log-limit", &[]);
    let ours = splitdns.port();
    let refused = |key: &str, from: IpAddr| {
        let query = wrongly_signed(key, RecordType::SOA);
        // A fresh connection each time: the limit must hold across connections.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
        socket.connect(&local(ours).into()).unwrap();
        let mut stream: std::net::TcpStream = socket.into();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        stream.write_all(&framed(&query)).unwrap();
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).unwrap();
        let mut raw = vec![0u8; u16::from_be_bytes(length) as usize];
        stream.read_exact(&mut raw).unwrap();
        let reply = Message::from_vec(&raw).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::NotAuth);
    };
    let one = IpAddr::from([127, 0, 0, 1]);
    let two = IpAddr::from([127, 0, 0, 2]);
    for _ in 0..20 {
        refused("internal-xfr.", one);
    }
    refused("external-xfr.", one);
    refused("internal-xfr.", two);
    // The line is written before the answer is: every one is in the log by now.
    let log = splitdns.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("answered NOTAUTH"))
        .collect();
    let count = |key: &str, from: &str| {
        lines
            .iter()
            .filter(|l| l.contains(key) && l.contains(&format!("{from}:")))
            .count()
    };
    assert_eq!(
        (
            count("internal-xfr", "127.0.0.1"),
            count("external-xfr", "127.0.0.1"),
            count("internal-xfr", "127.0.0.2"),
        ),
        (1, 1, 1),
        "{log}"
    );
}

/// `notify_source`: a secondary takes a NOTIFY only from its primary's address, so a server with
/// several sends from the one named, not the one the system would pick (127.0.0.1 here).
#[test]
fn notify_leaves_from_the_notify_source() {
    let (secondary, theirs) = stand_in_secondary();
    let splitdns = start_splitdns_with(
        "secondaries/notify-source",
        &[("internal", theirs)],
        "notify_source = \"127.0.0.9\"\n",
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 4096];
    let from = loop {
        if let Ok((_, from)) = secondary.recv_from(&mut buf) {
            break from;
        }
        assert!(
            Instant::now() < deadline,
            "no NOTIFY within 5 s:\n{}",
            splitdns.log_text()
        );
    };
    assert_eq!(from.ip(), IpAddr::from([127, 0, 0, 9]));
}

/// The transfer fixture in the scratch directory `test` with `state_dir = "<dir>"` as its first
/// line (line 1, the value at column 13); returns the config.
fn fixture_with_state_dir(test: &str, dir: &str) -> PathBuf {
    let config = scratch_copy(test, &fixture_dir("transfer")).join("splitdns.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("state_dir = \"{dir}\"\n{text}")).unwrap();
    config
}

/// `splitdns check` on `config`: whether it passed, and its stdout and stderr.
fn check(config: &Path) -> (bool, String) {
    let output = splitdns()
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run splitdns check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The line of `text` holding `needle`, failing the test without one.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

/// A `state_dir` that does not exist refuses the start with an error at its
/// `file:line`, and `check` says the same (one rule); once the admin creates it, a serial
/// splitdns raised (an edit without a serial increase, in a view with secondaries) survives a
/// restart instead of falling back to the file's, which secondaries would ignore.
#[test]
fn a_missing_state_dir_refuses_the_start_and_check_then_serials_survive_a_restart() {
    let config = fixture_with_state_dir("state-dir-missing", "state");
    let at = format!("{}:1:13: state_dir", config.display());
    let (status, log) = Daemon::serve(&config).start_fails();
    assert!(!status.success());
    let refused = line_with(&log, &at);
    assert!(refused.contains("does not exist"), "{refused}");
    let (passed, text) = check(&config);
    assert!(!passed, "check passed:\n{text}");
    let checked = line_with(&text, &at);
    assert_eq!(
        refused[refused.find(&at).unwrap()..],
        checked[checked.find(&at).unwrap()..],
        "start and check disagree"
    );

    // What the error tells the admin to do.
    fs::create_dir(config.with_file_name("state")).unwrap();
    assert!(check(&config).0, "check still fails:\n{}", check(&config).1);
    let daemon = Daemon::serve(&config).start();
    let file_serial = soa_serial(daemon.dns, INTERNAL).expect("the internal serial");
    let internal = config.with_file_name("contoso.example.internal.zone");
    let zone = fs::read_to_string(&internal).unwrap();
    fs::write(&internal, zone.replace("10.0.9.9", "10.0.9.10")).unwrap();
    wait_for(
        "the edit to be served with a raised serial",
        || soa_serial(daemon.dns, INTERNAL) == Some(file_serial + 1),
        &daemon,
    );
    drop(daemon);

    let daemon = Daemon::serve(&config).start();
    assert_eq!(
        soa_serial(daemon.dns, INTERNAL),
        Some(file_serial + 1),
        "the served serial went back at restart"
    );
    assert!(!daemon.log_text().contains("cannot keep the served serials"));
}

/// A `state_dir` that cannot be written (here under a regular file: root, which
/// runs the tests, ignores permission bits) refuses the start, and `check`, at its line.
#[test]
fn a_state_dir_that_cannot_be_written_refuses_the_start_and_check() {
    let config = fixture_with_state_dir("state-dir-unwritable", "somefile/sub");
    fs::write(
        config.with_file_name("somefile"),
        "a file, not a directory\n",
    )
    .unwrap();
    let at = format!("{}:1:13: state_dir", config.display());
    let (status, log) = Daemon::serve(&config).start_fails();
    assert!(!status.success());
    let refused = line_with(&log, &at);
    let (passed, text) = check(&config);
    assert!(!passed, "check passed:\n{text}");
    let checked = line_with(&text, &at);
    assert_eq!(
        refused[refused.find(&at).unwrap()..],
        checked[checked.find(&at).unwrap()..],
        "start and check disagree"
    );
}
