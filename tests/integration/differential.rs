//! The differential check: each zone is served by splitdns in-process and by a
//! reference server — Knot DNS (`knotd`) or NSD (`nsd`), a child process on another loopback
//! port; both get the same queries and their answers are compared — rcode, the AA and TC flags,
//! and the answer, authority and additional sections as sets of rendered records
//! (case-insensitively; order ignored).
//!
//! The queries: every name in the zone (the reference's AXFR of it, our loader's names and every
//! empty non-terminal) × the common types and the name's own types, ANY over TCP, and generated
//! names — a name that does not exist below every existing one, names matched by each wildcard,
//! names below each cut and each DNAME (down to a 255-octet one, for YXDOMAIN). Each goes over
//! UDP with EDNS (1232 octets) and over TCP (without EDNS, with the name in mixed case).
//!
//! A difference fails the test unless an entry of [`DELIBERATE`] explains it; each entry says
//! which RFC allows our answer. The zones: ours in `tests/fixtures/differential/`, then the
//! public test zones of other DNS projects in `../shared/testdata/zones` when that directory
//! exists — read in place, since several are GPL or MPL and must not be copied into this
//! repository.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::common::{
    EXTERNAL, Reply, Server, TIMEOUT, Via, decode_reply, framed, free_port, scratch_dir, with_edns,
};

/// Zones compared at the same time.
const PARALLEL_ZONES: usize = 4;
/// How long a reference server may take to start and load a zone.
const STARTUP: Duration = Duration::from_secs(10);
/// The EDNS payload size of the UDP queries (DNS Flag Day 2020; also our own limit).
const UDP_PAYLOAD: u16 = 1232;
/// Types asked at every name, on top of the name's own types.
const COMMON_TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::NS,
    RecordType::SOA,
    RecordType::SRV,
    RecordType::CNAME,
    RecordType::DS,
];
/// DNSSEC types are neither served nor asked for: no zone here is signed.
const DNSSEC_TYPES: &[u16] = &[46, 47, 50];

#[test]
fn differential_against_knot() {
    differential_against(Reference::Knot);
}

#[test]
fn differential_against_nsd() {
    differential_against(Reference::Nsd);
}

fn differential_against(reference: Reference) {
    let Some(binary) = reference.find() else {
        say(&format!(
            "skipped: {} not found (apt-get install {})",
            reference.binary(),
            reference.package()
        ));
        return;
    };
    let started = Instant::now();
    let mut zones = own_zones();
    match shared_zones() {
        Ok((shared, notes)) => {
            notes
                .iter()
                .for_each(|note| say(&format!("{}: {note}", reference.name())));
            zones.extend(shared);
        }
        Err(reason) => say(&format!(
            "{}: shared zones skipped: {reason}",
            reference.name()
        )),
    }
    // A few zones at a time: each has its own pair of servers, and most of the time goes to
    // waiting for answers.
    let next = AtomicUsize::new(0);
    let mut tallies: Vec<(usize, Tally)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PARALLEL_ZONES)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(zone) = zones.get(index) else {
                            return done;
                        };
                        let mut tally = Tally::default();
                        compare_zone(reference, &binary, zone, &mut tally);
                        done.push((index, tally));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("zone worker"))
            .collect()
    });
    tallies.sort_by_key(|(index, _)| *index);
    let mut tally = Tally::default();
    for (_, zone_tally) in tallies {
        tally.merge(zone_tally);
    }
    say(&tally.summary(reference, started.elapsed()));
    assert!(
        tally.mismatches.is_empty(),
        "{} answer(s) differ from {}'s:\n\n{}",
        tally.mismatches.len(),
        reference.name(),
        tally.mismatches.join("\n")
    );
}

/// Writes past the test harness's output capture: a skip or a summary must never be silent.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "differential: {line}");
}

/// A reference server: how to find, configure and start it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reference {
    Knot,
    Nsd,
}

impl Reference {
    fn name(self) -> &'static str {
        match self {
            Reference::Knot => "knot",
            Reference::Nsd => "nsd",
        }
    }

    fn binary(self) -> &'static str {
        match self {
            Reference::Knot => "knotd",
            Reference::Nsd => "nsd",
        }
    }

    /// The Debian package that has the binary.
    fn package(self) -> &'static str {
        match self {
            Reference::Knot => "knot",
            Reference::Nsd => "nsd",
        }
    }

    fn find(self) -> Option<PathBuf> {
        crate::common::find_program(self.binary())
    }

    /// The least the server needs: one listener on `port`, the zone read from `zone_file` and
    /// never written back, no DNSSEC, AXFR for us, minimal responses (no authority NS on
    /// positive answers: splitdns and Knot add none), every file in `dir`.
    fn config(self, dir: &Path, port: u16, origin: &str, zone_file: &Path) -> String {
        let (dir, zone_file) = (dir.display(), zone_file.display());
        match self {
            // No journal, no semantic checks (test zones break rules on purpose).
            Reference::Knot => format!(
                "server:\n    rundir: \"{dir}\"\n    listen: 127.0.0.1@{port}\n    \
                 udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
                 database:\n    storage: \"{dir}/db\"\n\
                 log:\n  - target: stderr\n    any: info\n\
                 acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
                 template:\n  - id: default\n    storage: \"{dir}\"\n    semantic-checks: off\n    \
                 journal-content: none\n    zonefile-sync: -1\n    zonefile-load: whole\n    \
                 acl: transfer\n\
                 zone:\n  - domain: \"{origin}\"\n    file: \"{zone_file}\"\n"
            ),
            // No database, no chroot or user change, no remote control, no rate limiting (it
            // would slip TC=1 answers into a run of NXDOMAINs).
            Reference::Nsd => format!(
                "server:\n    ip-address: 127.0.0.1@{port}\n    server-count: 1\n    \
                 username: \"\"\n    chroot: \"\"\n    zonesdir: \"{dir}\"\n    database: \"\"\n    \
                 zonelistfile: \"{dir}/zone.list\"\n    xfrdfile: \"{dir}/xfrd.state\"\n    \
                 xfrdir: \"{dir}\"\n    pidfile: \"{dir}/nsd.pid\"\n    verbosity: 1\n    \
                 minimal-responses: yes\n    rrl-ratelimit: 0\n\
                 remote-control:\n    control-enable: no\n\
                 zone:\n    name: \"{origin}\"\n    zonefile: \"{zone_file}\"\n    \
                 provide-xfr: 127.0.0.0/8 NOKEY\n"
            ),
        }
    }

    /// The server in the foreground, logging to stderr.
    fn command(self, binary: &Path, config: &Path) -> Command {
        let mut command = Command::new(binary);
        match self {
            Reference::Knot => command.arg("--config").arg(config),
            Reference::Nsd => command.arg("-d").arg("-c").arg(config),
        };
        command
    }
}

/// One zone to compare: a short label for scratch directories and messages, its origin and file.
pub(crate) struct TestZone {
    pub(crate) label: String,
    pub(crate) origin: String,
    pub(crate) file: PathBuf,
    /// Whether the file has a `$TTL` directive (see [`DELIBERATE`] on default TTLs).
    states_ttl: bool,
}

impl TestZone {
    fn new(label: String, origin: String, file: PathBuf) -> TestZone {
        let text = fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let states_ttl = text.split(|&byte| byte == b'\n').any(|line| {
            line.trim_ascii_start()
                .get(..4)
                .is_some_and(|word| word.eq_ignore_ascii_case(b"$TTL"))
        });
        TestZone {
            label,
            origin,
            file,
            states_ttl,
        }
    }
}

/// `tests/fixtures/differential/<origin>zone`, e.g. `wild.example.zone` for `wild.example.`.
pub(crate) fn own_zones() -> Vec<TestZone> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/differential");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("read fixture dir").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zone"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let stem = file.file_stem().unwrap().to_str().unwrap().to_string();
            TestZone::new(stem.clone(), format!("{stem}."), file)
        })
        .collect()
}

/// The zones in `../shared/testdata/zones`, with the origin each has in its `SOURCES.md` table,
/// plus a note for every file that is listed but absent or present but unlisted.
pub(crate) fn shared_zones() -> Result<(Vec<TestZone>, Vec<String>), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/zones");
    let sources = dir.join("SOURCES.md");
    if !dir.is_dir() {
        return Err(format!("{} does not exist", dir.display()));
    }
    let table = fs::read_to_string(&sources).map_err(|e| format!("{}: {e}", sources.display()))?;
    let mut zones = Vec::new();
    let mut notes = Vec::new();
    let mut listed = BTreeSet::new();
    for row in table.lines().filter(|line| line.starts_with('|')) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (Some(&file), Some(&origin)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if !file.ends_with(".zone") {
            continue;
        }
        listed.insert(file.to_string());
        let path = dir.join(file);
        if !path.is_file() {
            notes.push(format!(
                "shared zone {file} is listed in SOURCES.md but absent: skipped"
            ));
            continue;
        }
        let label = format!("shared-{}", file.trim_end_matches(".zone"));
        zones.push(TestZone::new(label, origin.to_string(), path));
    }
    for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let name = entry
            .map_err(|e| e.to_string())?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.ends_with(".zone") && !listed.contains(&name) {
            notes.push(format!(
                "shared zone {name} has no origin in SOURCES.md: skipped"
            ));
        }
    }
    Ok((zones, notes))
}

/// Serves one zone with both servers, asks every question, and records what differs.
fn compare_zone(reference: Reference, binary: &Path, zone: &TestZone, tally: &mut Tally) {
    let dir = scratch_dir(&format!("differential/{}/{}", reference.name(), zone.label));
    let config = write_splitdns_config(&dir, zone);
    let ours_loaded = match splitdns::load(&config) {
        Ok(loaded) => loaded.snapshot,
        Err(e) => {
            tally.fail(
                zone,
                "splitdns does not load the zone",
                e.lines().join("\n"),
            );
            return;
        }
    };
    let theirs = match RefServer::start(reference, binary, &dir, zone) {
        Ok(server) => server,
        Err(e) => {
            tally.fail(
                zone,
                &format!("{} does not serve the zone", reference.name()),
                e,
            );
            return;
        }
    };
    let origin = Name::from_ascii(&zone.origin)
        .expect("origin")
        .to_lowercase();
    let mut names = match theirs.transfer(&origin) {
        Ok(names) => names,
        Err(e) => {
            tally.fail(zone, &format!("AXFR from {} failed", reference.name()), e);
            return;
        }
    };
    // Our loader's names too: a name only one side has must be asked about. And the DNAME
    // targets, for names that meet the same DNAME twice.
    let mut dname_targets = BTreeMap::new();
    for ours in &ours_loaded.views[0].zones {
        for (key, node) in ours.nodes() {
            names
                .entry(key.to_vec())
                .or_default()
                .extend(node.rrsets.iter().map(|set| set.rtype));
            if let Some(dname) = node.rrsets.iter().find(|set| set.rtype == 39) {
                dname_targets.insert(key.to_vec(), dname.rdatas[0].wire.to_ascii_lowercase());
            }
        }
    }
    drop(ours_loaded);
    let origin_wire = wire_of(&origin);
    add_empty_non_terminals(&mut names, &origin_wire);
    let questions = questions(&names, &dname_targets, &origin_wire);

    let ours = Server::with_config(&config);
    let mut ours = Client::new(ours.addr, Box::new(ours));
    let mut theirs = Client::new(theirs.addr, Box::new(theirs));
    let mut compared = 0usize;
    let mut differing = 0usize;
    for (qname, qtype) in &questions {
        for via in [Via::Udp, Via::Tcp] {
            // ANY is asked over TCP only: over UDP both servers send one RRset of their choice
            // (RFC 8482 §4.1), so there is nothing to compare.
            if *qtype == RecordType::ANY && via == Via::Udp {
                continue;
            }
            let query = build_query(qname, *qtype, via);
            let ours_seen = ours.ask(via, &query);
            let theirs_seen = theirs.ask(via, &query);
            compared += 1;
            let asked = Asked {
                qname: qname.to_string().to_lowercase(),
                qtype: *qtype,
                states_ttl: zone.states_ttl,
                reference,
            };
            match judge(&asked, &ours_seen, &theirs_seen) {
                None => {}
                Some(Verdict::Allowed(entry)) => *tally.allowed.entry(entry).or_default() += 1,
                Some(Verdict::Differs) => {
                    differing += 1;
                    tally.mismatches.push(format!(
                        "[{}] {} {} over {via:?}\n{}",
                        zone.label,
                        query.queries[0].name(),
                        qtype,
                        difference(reference, &ours_seen, &theirs_seen)
                    ));
                }
            }
        }
    }
    tally.zones.push(format!(
        "{:<34} {:>5} names {:>6} queries {:>4} mismatches",
        zone.label,
        names.len(),
        compared,
        differing
    ));
    tally.queries += compared;
}

/// A config with one view for every client and the zone as its shared file, read in place.
pub(crate) fn write_splitdns_config(dir: &Path, zone: &TestZone) -> PathBuf {
    let config = dir.join("splitdns.toml");
    let text = format!(
        "# Written by tests/integration/differential.rs.\n\
         [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\npublic = false\n\
         [view.rrl]\nenabled = false\n\n\
         [[zone]]\norigin = {:?}\nfile = {:?}\n",
        zone.origin,
        zone.file.to_str().expect("UTF-8 path")
    );
    fs::write(&config, text).expect("write splitdns.toml");
    config
}

/// A reference server serving one zone on `127.0.0.1:<free port>`, killed when dropped.
struct RefServer {
    child: Child,
    addr: SocketAddr,
    name: &'static str,
}

impl RefServer {
    fn start(
        reference: Reference,
        binary: &Path,
        dir: &Path,
        zone: &TestZone,
    ) -> Result<RefServer, String> {
        let name = reference.name();
        let copy = dir.join(format!("{name}.zone"));
        fs::copy(&zone.file, &copy).map_err(|e| format!("copy {}: {e}", zone.file.display()))?;
        fs::create_dir_all(dir.join("db")).map_err(|e| e.to_string())?;
        let log = dir.join(format!("{name}.log"));
        let mut last_error = String::new();
        // Another process may take the port between our probe and the server's bind: try again.
        for _ in 0..3 {
            let port = free_port();
            let conf = dir.join(format!("{name}.conf"));
            fs::write(&conf, reference.config(dir, port, &zone.origin, &copy))
                .map_err(|e| e.to_string())?;
            let child = reference
                .command(binary, &conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).map_err(|e| e.to_string())?)
                .spawn()
                .map_err(|e| format!("start {}: {e}", binary.display()))?;
            let mut server = RefServer {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                name,
            };
            match server.wait_until_serving(&zone.origin) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    last_error = format!("{e}; {name} log:\n{text}");
                    if !text.contains("bind") {
                        break;
                    }
                }
            }
        }
        Err(last_error)
    }

    /// Polls the zone's SOA until the server answers it (it loads zones after it starts).
    fn wait_until_serving(&mut self, origin: &str) -> Result<(), String> {
        let name = Name::from_ascii(origin).map_err(|e| e.to_string())?;
        let query = build_query(&name, RecordType::SOA, Via::Udp)
            .to_vec()
            .expect("encode");
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let deadline = Instant::now() + STARTUP;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("{} exited ({status})", self.name));
            }
            let _ = socket.send_to(&query, self.addr);
            let reply = socket
                .recv(&mut buf)
                .ok()
                .and_then(|len| Message::from_vec(&buf[..len]).ok());
            let serving = reply.is_some_and(|reply| {
                reply.metadata.response_code == ResponseCode::NoError
                    && reply
                        .answers
                        .iter()
                        .any(|r| r.record_type() == RecordType::SOA)
            });
            if serving {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("no SOA from {} within {STARTUP:?}", self.name))
    }

    /// Every owner name in the zone with its types, from an AXFR: the reference server's own
    /// reading of the file. Records are walked on the wire, not decoded, so that a type
    /// hickory-proto cannot parse still counts.
    fn transfer(&self, origin: &Name) -> Result<BTreeMap<Vec<u8>, BTreeSet<u16>>, String> {
        let query = build_query(origin, RecordType::AXFR, Via::Tcp)
            .to_vec()
            .expect("encode");
        let mut stream =
            TcpStream::connect_timeout(&self.addr, TIMEOUT).map_err(|e| e.to_string())?;
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream
            .write_all(&framed(&query))
            .map_err(|e| e.to_string())?;
        let mut names: BTreeMap<Vec<u8>, BTreeSet<u16>> = BTreeMap::new();
        let mut soas = 0;
        for _ in 0..100_000 {
            let mut length = [0u8; 2];
            stream
                .read_exact(&mut length)
                .map_err(|e| format!("AXFR read: {e}"))?;
            let mut message = vec![0u8; u16::from_be_bytes(length) as usize];
            stream
                .read_exact(&mut message)
                .map_err(|e| format!("AXFR read: {e}"))?;
            if message.get(3).is_none_or(|flags| flags & 0x0f != 0) {
                return Err(format!("AXFR refused or failed: {message:02x?}"));
            }
            for (owner, rtype) in records_in(&message).ok_or("AXFR message undecodable")? {
                soas += usize::from(rtype == 6);
                names
                    .entry(owner.to_ascii_lowercase())
                    .or_default()
                    .insert(rtype);
            }
            if soas >= 2 {
                return Ok(names);
            }
        }
        Err("AXFR never ended".into())
    }
}

impl Drop for RefServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The owner name (uncompressed wire form) and type of every record in a message.
fn records_in(message: &[u8]) -> Option<Vec<(Vec<u8>, u16)>> {
    let count = |at: usize| {
        Some(u16::from_be_bytes(
            message.get(at..at + 2)?.try_into().ok()?,
        ))
    };
    let (questions, records) = (
        count(4)?,
        count(6)? as usize + count(8)? as usize + count(10)? as usize,
    );
    let mut pos = 12;
    for _ in 0..questions {
        pos = read_name(message, pos)?.1 + 4;
    }
    let mut found = Vec::with_capacity(records);
    for _ in 0..records {
        let (owner, end) = read_name(message, pos)?;
        let rtype = u16::from_be_bytes(message.get(end..end + 2)?.try_into().ok()?);
        let rdlength = u16::from_be_bytes(message.get(end + 8..end + 10)?.try_into().ok()?);
        pos = end + 10 + rdlength as usize;
        found.push((owner, rtype));
    }
    Some(found)
}

/// A possibly compressed name at `pos`: the name uncompressed, and where the record goes on.
fn read_name(message: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut resume = None;
    for _ in 0..255 {
        let len = *message.get(pos)? as usize;
        if len & 0xc0 == 0xc0 {
            resume.get_or_insert(pos + 2);
            pos = (len & 0x3f) << 8 | *message.get(pos + 1)? as usize;
        } else if len == 0 {
            name.push(0);
            return Some((name, resume.unwrap_or(pos + 1)));
        } else {
            name.extend_from_slice(message.get(pos..pos + 1 + len)?);
            pos += 1 + len;
        }
    }
    None
}

fn wire_of(name: &Name) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in name.iter() {
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
    }
    wire.push(0);
    wire
}

fn labels_of(wire: &[u8]) -> Vec<&[u8]> {
    let mut labels = Vec::new();
    let mut pos = 0;
    while wire[pos] != 0 {
        let len = wire[pos] as usize;
        labels.push(&wire[pos + 1..pos + 1 + len]);
        pos += 1 + len;
    }
    labels
}

fn name_of(wire: &[u8]) -> Name {
    Name::from_labels(labels_of(wire)).expect("a valid wire name")
}

/// `label.parent`, if the result is still a legal name (at most 255 octets).
fn child(label: &[u8], parent: &[u8]) -> Option<Vec<u8>> {
    let mut wire = vec![label.len() as u8];
    wire.extend_from_slice(label);
    wire.extend_from_slice(parent);
    (wire.len() <= 255).then_some(wire)
}

/// The longest legal name below `parent`: 255 octets, for DNAME substitutions that overflow.
fn longest_below(parent: &[u8]) -> Option<Vec<u8>> {
    let mut room = 255usize.checked_sub(parent.len())?;
    let mut wire = Vec::new();
    while room >= 2 {
        let mut len = (room - 1).min(63);
        if room - (len + 1) == 1 {
            len -= 1;
        }
        wire.push(len as u8);
        wire.extend(std::iter::repeat_n(b'l', len));
        room -= len + 1;
    }
    wire.extend_from_slice(parent);
    (!wire.is_empty() && wire.len() > parent.len()).then_some(wire)
}

/// Every ancestor of a name, down to the origin, exists (RFC 4592 §2.2.2: as an empty
/// non-terminal when it has no records).
fn add_empty_non_terminals(names: &mut BTreeMap<Vec<u8>, BTreeSet<u16>>, origin: &[u8]) {
    let owners: Vec<Vec<u8>> = names.keys().cloned().collect();
    for owner in owners {
        let mut pos = 0;
        while owner[pos] != 0 && owner.len() - pos > origin.len() {
            pos += 1 + owner[pos] as usize;
            names.entry(owner[pos..].to_vec()).or_default();
        }
    }
}

/// The questions for one zone, each once: `(name, type)`.
fn questions(
    names: &BTreeMap<Vec<u8>, BTreeSet<u16>>,
    dname_targets: &BTreeMap<Vec<u8>, Vec<u8>>,
    origin: &[u8],
) -> Vec<(Name, RecordType)> {
    let mut asked: BTreeSet<(Vec<u8>, RecordType)> = BTreeSet::new();
    let ask_common = |asked: &mut BTreeSet<(Vec<u8>, RecordType)>, wire: Option<Vec<u8>>| {
        if let Some(wire) = wire.filter(|w| !names.contains_key(w)) {
            asked.extend(COMMON_TYPES.iter().map(|&t| (wire.clone(), t)));
        }
    };
    for (owner, types) in names {
        asked.extend(COMMON_TYPES.iter().map(|&t| (owner.clone(), t)));
        asked.insert((owner.clone(), RecordType::ANY));
        for &rtype in types.iter().filter(|t| !DNSSEC_TYPES.contains(t)) {
            asked.insert((owner.clone(), RecordType::from(rtype)));
        }
        ask_common(&mut asked, child(b"no-such-name", owner));
        let labels = labels_of(owner);
        if labels.first() == Some(&&b"*"[..]) {
            let parent = &owner[2..];
            ask_common(&mut asked, child(b"wild-match", parent));
            ask_common(
                &mut asked,
                child(b"two", parent).and_then(|w| child(b"levels", &w)),
            );
        }
        if owner != origin && types.contains(&u16::from(RecordType::NS)) {
            ask_common(&mut asked, child(b"host", owner));
            ask_common(&mut asked, child(b"b", owner).and_then(|w| child(b"a", &w)));
        }
        if types.contains(&39) {
            ask_common(&mut asked, child(b"x", owner));
            ask_common(&mut asked, child(b"b", owner).and_then(|w| child(b"a", &w)));
            ask_common(&mut asked, longest_below(owner));
        }
        // A DNAME whose target is above it applies again to what it synthesizes: `x.d.d.t` for
        // `d.t DNAME t` rewrites to `x.d.t`, then to `x.t` (the DNAME must appear once).
        if let Some(target) = dname_targets
            .get(owner)
            .filter(|t| owner.len() > t.len() && owner.ends_with(t))
        {
            let twice = [&owner[..owner.len() - target.len()], &owner[..]].concat();
            ask_common(&mut asked, child(b"x", &twice).filter(|w| w.len() <= 255));
        }
    }
    ask_common(&mut asked, child(b"*", origin));
    asked
        .into_iter()
        .map(|(wire, rtype)| (name_of(&wire), rtype))
        .collect()
}

/// A query as `dig` sends it: RD set; over UDP with EDNS, over TCP with the name in mixed case
/// (both servers must match names case-insensitively and echo the question as asked).
fn build_query(name: &Name, rtype: RecordType, via: Via) -> Message {
    let name = match via {
        Via::Udp => name.clone(),
        Via::Tcp => mixed_case(name),
    };
    let mut message = Message::query();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name, rtype));
    match via {
        Via::Udp => with_edns(message, UDP_PAYLOAD, false),
        Via::Tcp => message,
    }
}

fn mixed_case(name: &Name) -> Name {
    let mut upper = false;
    let labels = name.iter().map(|label| {
        label
            .iter()
            .map(|&byte| {
                upper = !upper;
                if upper {
                    byte.to_ascii_uppercase()
                } else {
                    byte.to_ascii_lowercase()
                }
            })
            .collect::<Vec<u8>>()
    });
    Name::from_labels(labels).expect("same labels")
}

/// One server's response, reduced to what is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    rcode: ResponseCode,
    aa: bool,
    tc: bool,
    answer: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

impl Seen {
    fn of(reply: &Reply) -> Seen {
        let normal = |records: Vec<String>| {
            let mut records: Vec<String> = records.into_iter().map(|r| r.to_lowercase()).collect();
            records.sort();
            records
        };
        Seen {
            rcode: reply.rcode(),
            aa: reply.aa(),
            tc: reply.tc(),
            answer: normal(reply.answer()),
            authority: normal(reply.authority()),
            additional: normal(reply.additional()),
        }
    }

    /// The same response with every TTL replaced by `-`.
    fn without_ttls(&self) -> Seen {
        let strip = |records: &[String]| -> Vec<String> {
            let mut stripped: Vec<String> = records
                .iter()
                .map(|record| {
                    let fields: Vec<&str> = record.splitn(3, ' ').collect();
                    format!("{} - {}", fields[0], fields.get(2).unwrap_or(&""))
                })
                .collect();
            stripped.sort();
            stripped
        };
        Seen {
            answer: strip(&self.answer),
            authority: strip(&self.authority),
            additional: strip(&self.additional),
            ..self.clone()
        }
    }
}

/// One connected UDP socket and one TCP connection to a server, kept for all of a zone's
/// queries (RFC 7766 §6.2.1: many queries per connection), so the test spends its time on
/// answers rather than on sockets. Owns the server, which stops when the client is dropped.
struct Client {
    addr: SocketAddr,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
    _server: Box<dyn Any>,
}

impl Client {
    fn new(addr: SocketAddr, server: Box<dyn Any>) -> Client {
        Client {
            addr,
            udp: None,
            tcp: None,
            _server: server,
        }
    }

    /// Sends one query and reduces the reply. A timeout, or a reply that does not decode or
    /// breaks a rule every response must keep (the harness panics on those), becomes an error
    /// text, so that one bad answer does not hide the others.
    fn ask(&mut self, via: Via, query: &Message) -> Result<Seen, String> {
        let bytes = query.to_vec().expect("encode query");
        let raw = match via {
            Via::Udp => self.udp_exchange(&bytes, query.metadata.id),
            Via::Tcp => self.tcp_exchange(&bytes),
        }?;
        // hickory-proto refuses some legal messages (an empty RDATA, for one): such a reply is
        // compared as bytes, without the harness's panic and its backtrace.
        if let Err(e) = Message::from_vec(&raw) {
            return Err(format!(
                "hickory-proto cannot decode the reply ({e}): {raw:02x?}"
            ));
        }
        catch_unwind(AssertUnwindSafe(|| Seen::of(&decode_reply(query, &raw)))).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".into())
        })
    }

    fn udp_exchange(&mut self, bytes: &[u8], id: u16) -> Result<Vec<u8>, String> {
        if self.udp.is_none() {
            let socket = UdpSocket::bind((EXTERNAL, 0)).map_err(|e| format!("bind UDP: {e}"))?;
            socket.set_read_timeout(Some(TIMEOUT)).unwrap();
            socket.connect(self.addr).map_err(|e| e.to_string())?;
            self.udp = Some(socket);
        }
        let socket = self.udp.as_ref().unwrap();
        socket.send(bytes).map_err(|e| format!("UDP send: {e}"))?;
        let mut buf = vec![0u8; 65535];
        // A late reply to an earlier query that timed out is skipped, not taken for this one.
        for _ in 0..8 {
            let len = socket
                .recv(&mut buf)
                .map_err(|e| format!("no UDP reply: {e}"))?;
            if len >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                buf.truncate(len);
                return Ok(buf);
            }
        }
        Err("no UDP reply with the query's ID".into())
    }

    /// Over the open connection, or a new one if the server closed it (it may, when idle).
    fn tcp_exchange(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        for _ in 0..2 {
            if self.tcp.is_none() {
                let stream = TcpStream::connect_timeout(&self.addr, TIMEOUT)
                    .map_err(|e| format!("TCP connect: {e}"))?;
                stream.set_read_timeout(Some(TIMEOUT)).unwrap();
                stream.set_nodelay(true).unwrap();
                self.tcp = Some(stream);
            }
            let stream = self.tcp.as_mut().unwrap();
            let mut length = [0u8; 2];
            let sent = stream
                .write_all(&framed(bytes))
                .and_then(|()| stream.read_exact(&mut length));
            if sent.is_err() {
                self.tcp = None;
                continue;
            }
            let mut message = vec![0u8; u16::from_be_bytes(length) as usize];
            stream
                .read_exact(&mut message)
                .map_err(|e| format!("TCP read: {e}"))?;
            return Ok(message);
        }
        Err("TCP connection closed twice".into())
    }
}

/// What differs between two responses: the header if it does, then per section the records
/// only one side has (and how many both have), so a mismatch reads in a few lines.
fn difference(
    reference: Reference,
    ours: &Result<Seen, String>,
    theirs: &Result<Seen, String>,
) -> String {
    let (ours, theirs) = match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => (ours, theirs),
        _ => {
            let show = |seen: &Result<Seen, String>| match seen {
                Ok(seen) => format!("{seen:?}"),
                Err(e) => format!("error: {e}"),
            };
            let name = reference.name();
            return format!("  splitdns: {}\n  {name}: {}", show(ours), show(theirs));
        }
    };
    let header = |s: &Seen| format!("{:?} aa={} tc={}", s.rcode, s.aa, s.tc);
    let name = reference.name();
    let mut text = format!("  splitdns {} / {name} {}", header(ours), header(theirs));
    for (section, a, b) in [
        ("answer", &ours.answer, &theirs.answer),
        ("authority", &ours.authority, &theirs.authority),
        ("additional", &ours.additional, &theirs.additional),
    ] {
        // Multiset difference: a record one side repeats counts as a difference too.
        let only = |x: &Vec<String>, y: &Vec<String>| -> Vec<String> {
            let mut rest = y.clone();
            x.iter()
                .filter(|r| match rest.iter().position(|other| other == *r) {
                    Some(at) => {
                        rest.swap_remove(at);
                        false
                    }
                    None => true,
                })
                .cloned()
                .collect()
        };
        let (only_ours, only_theirs) = (only(a, b), only(b, a));
        if only_ours.is_empty() && only_theirs.is_empty() {
            continue;
        }
        let both = a.len() - only_ours.len();
        text.push_str(&format!("\n  {section} ({both} alike)"));
        if !only_ours.is_empty() {
            text.push_str(&format!("\n    only splitdns: {only_ours:?}"));
        }
        if !only_theirs.is_empty() {
            text.push_str(&format!("\n    only {name}: {only_theirs:?}"));
        }
    }
    text
}

/// What was asked, as much as the allow-list needs to know.
struct Asked {
    /// The query name as records render it (lowercased).
    qname: String,
    qtype: RecordType,
    /// Whether the zone file has a `$TTL` directive.
    states_ttl: bool,
    reference: Reference,
}

enum Verdict {
    /// Explained by the named entry of [`DELIBERATE`].
    Allowed(&'static str),
    Differs,
}

/// `None` when both servers said the same.
fn judge(
    asked: &Asked,
    ours: &Result<Seen, String>,
    theirs: &Result<Seen, String>,
) -> Option<Verdict> {
    if ours == theirs {
        return None;
    }
    let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
        return Some(Verdict::Differs);
    };
    if let Some(entry) = DELIBERATE
        .iter()
        .find(|entry| entry.applies_to(asked, ours, theirs))
    {
        return Some(Verdict::Allowed(entry.name));
    }
    // In a file without $TTL, TTLs may differ everywhere (the last entry), and another
    // difference may come on top: the other entries then judge the answers without TTLs.
    if !asked.states_ttl {
        let (ours, theirs) = (ours.without_ttls(), theirs.without_ttls());
        if let Some(entry) = DELIBERATE
            .iter()
            .find(|entry| entry.applies_to(asked, &ours, &theirs))
        {
            return Some(Verdict::Allowed(entry.name));
        }
    }
    Some(Verdict::Differs)
}

/// A deliberate difference from a reference server, with the RFC that allows our answer.
struct Deliberate {
    name: &'static str,
    /// The reference server it concerns; `None`: any.
    only: Option<Reference>,
    applies: fn(&Asked, &Seen, &Seen) -> bool,
}

impl Deliberate {
    fn applies_to(&self, asked: &Asked, ours: &Seen, theirs: &Seen) -> bool {
        self.only.is_none_or(|only| only == asked.reference) && (self.applies)(asked, ours, theirs)
    }
}

/// Kept short: each entry is a place where the RFCs allow our answer and the reference server
/// answers otherwise, and each checks that everything else about the two answers agrees.
const DELIBERATE: &[Deliberate] = &[
    // RFC 8482 §4.1 lets a server answer ANY with one RRset; Knot and NSD do so on every
    // transport. We do over UDP (not compared) and send every RRset over TCP, the RFC 1034
    // §4.3.2 answer that RFC 8482 still allows. Their RRset and its additional data must be
    // among ours.
    Deliberate {
        name: "ANY over TCP: one RRset (RFC 8482 §4.1)",
        only: None,
        applies: any_one_rrset,
    },
    // RFC 1034 §4.3.2 step 3a restarts the lookup at every CNAME and sets no limit; servers do:
    // Knot stops after 5 links (CNAME_CHAIN_MAX in knot/nameserver/internet.h, repeating the
    // records of a DNAME loop up to it), we after 16 in the zone (MAX_CHAIN in src/answer), NSD
    // later. The shorter answer ends NOERROR where the client resumes; the longer one must be a
    // whole chain from the query name.
    Deliberate {
        name: "CNAME chain cut at another length (RFC 1034 §4.3.2)",
        only: None,
        applies: chain_cut,
    },
    // When a DNAME substitution would exceed 255 octets, RFC 6672 §3.2 step 3c says: set
    // YXDOMAIN and exit. Knot sets it and then looks up the DNAME's target anyway, adding what
    // it finds (the SOA, or NXDOMAIN when the target does not exist); NSD answers as we do.
    Deliberate {
        name: "Knot: YXDOMAIN after a DNAME (RFC 6672 §3.2)",
        only: Some(Reference::Knot),
        applies: yxdomain,
    },
    // Knot adds the same address RRset twice when two records name one host (two SRV records
    // with one target); RFC 2181 §5.5: an RRset appears once in a response.
    Deliberate {
        name: "Knot repeats an RRset (RFC 2181 §5.5)",
        only: Some(Reference::Knot),
        applies: repeats_an_rrset,
    },
    // NSD runs with minimal-responses (else it adds the zone's NS set to every positive answer,
    // which splitdns and Knot do not), and then adds no addresses for MX, SRV or SVCB targets.
    // Additional data is optional (RFC 2181 §9); Knot's is compared in full.
    Deliberate {
        name: "NSD minimal responses: no additional data (RFC 2181 §9)",
        only: Some(Reference::Nsd),
        applies: less_additional_data,
    },
    // A referral whose glue below the cut does not fit: RFC 9471 §2.1 requires TC=1, as Knot
    // and we do. NSD 4.6 predates it and leaves glue out without TC.
    Deliberate {
        name: "NSD: glue left out without TC (RFC 9471 §2.1)",
        only: Some(Reference::Nsd),
        applies: glue_left_out,
    },
    // Both truncated: RFC 2181 §9 has the client drop a truncated response's data and retry over
    // TCP (where the full answers are compared). Knot keeps the records that fitted; we send
    // none, so no client can mistake a partial RRset for a whole one.
    Deliberate {
        name: "both truncated (RFC 2181 §9)",
        only: None,
        applies: both_truncated,
    },
    // A zone file without $TTL and records without a TTL: RFC 1035 §5.1 gives them the last
    // TTL stated, and before any, we take the SOA MINIMUM as BIND does (RFC 1035 §3.3.13).
    // Knot and NSD use 3600 for every such record. Only the TTLs may differ.
    Deliberate {
        name: "default TTL without $TTL (RFC 1035 §5.1)",
        only: None,
        applies: default_ttl,
    },
];

fn same_header(ours: &Seen, theirs: &Seen) -> bool {
    (ours.rcode, ours.aa, ours.tc) == (theirs.rcode, theirs.aa, theirs.tc)
}

/// Every record of `part` is in `whole`, ignoring repeats.
fn within(part: &[String], whole: &[String]) -> bool {
    part.iter().all(|record| whole.contains(record))
}

/// The type field of a rendered record (`owner ttl type rdata`).
fn type_of(record: &str) -> &str {
    record.split(' ').nth(2).unwrap_or_default()
}

fn any_one_rrset(asked: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    asked.qtype == RecordType::ANY
        && same_header(ours, theirs)
        && ours.authority == theirs.authority
        && within(&theirs.answer, &ours.answer)
        && within(&theirs.additional, &ours.additional)
}

fn chain_cut(asked: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    cut_short(asked, theirs, ours, true) || cut_short(asked, ours, theirs, false)
}

/// `short` stopped a chain that `long` follows further.
fn cut_short(asked: &Asked, short: &Seen, long: &Seen, short_is_theirs: bool) -> bool {
    let links = short
        .answer
        .iter()
        .filter(|r| type_of(r) == "cname")
        .count();
    // Repeating the records of a DNAME loop, Knot can overflow UDP with long names: then its
    // answer is truncated where ours fits.
    let looped = short.answer.iter().any(|r| type_of(r) == "dname");
    let overflowed = short_is_theirs && short.tc && !long.tc && looped;
    (links >= 5 || overflowed)
        && (short.rcode, short.aa) == (ResponseCode::NoError, long.aa)
        && (short.tc == long.tc || overflowed)
        && short.authority.is_empty()
        && within(&short.answer, &long.answer)
        && within(&short.additional, &long.additional)
        && whole_chain(&asked.qname, &long.answer)
}

/// The longer of two chains must go on by itself: its CNAMEs lead one to the next from the query
/// name, and any other data (DNAMEs aside) is at the end of the chain.
fn whole_chain(qname: &str, answer: &[String]) -> bool {
    let fields = |record: &String| -> (String, String, String) {
        let mut parts = record.splitn(4, ' ');
        let owner = parts.next().unwrap_or_default().to_string();
        let rtype = parts.nth(1).unwrap_or_default().to_string();
        (owner, rtype, parts.next().unwrap_or_default().to_string())
    };
    let records: Vec<_> = answer.iter().map(fields).collect();
    let cnames = records
        .iter()
        .filter(|(_, rtype, _)| rtype == "cname")
        .count();
    let mut name = qname.to_string();
    for _ in 0..cnames {
        match records
            .iter()
            .find(|(owner, rtype, _)| rtype == "cname" && *owner == name)
        {
            Some((_, _, target)) => name = target.clone(),
            None => return false,
        }
    }
    records
        .iter()
        .all(|(owner, rtype, _)| matches!(rtype.as_str(), "cname" | "dname") || *owner == name)
}

fn yxdomain(_: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    ours.rcode == ResponseCode::YXDomain
        && matches!(
            theirs.rcode,
            ResponseCode::YXDomain | ResponseCode::NXDomain
        )
        && (ours.aa, ours.tc) == (theirs.aa, theirs.tc)
        && within(&ours.answer, &theirs.answer)
        && ours.authority.is_empty()
}

fn repeats_an_rrset(_: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    let once = |records: &[String]| records.windows(2).all(|pair| pair[0] != pair[1]);
    let same_set = |a: &[String], b: &[String]| within(a, b) && within(b, a);
    same_header(ours, theirs)
        && [
            (&ours.answer, &theirs.answer),
            (&ours.authority, &theirs.authority),
            (&ours.additional, &theirs.additional),
        ]
        .iter()
        .all(|(a, b)| once(a) && same_set(a, b))
}

fn less_additional_data(_: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    same_header(ours, theirs)
        && ours.answer == theirs.answer
        && ours.authority == theirs.authority
        && within(&theirs.additional, &ours.additional)
}

fn glue_left_out(_: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    ours.tc
        && !theirs.tc
        && (ours.rcode, ours.aa) == (theirs.rcode, theirs.aa)
        && ours.answer.is_empty()
        && ours.authority.is_empty()
        && theirs.answer.is_empty()
        && !theirs.authority.is_empty()
        && theirs.authority.iter().all(|r| type_of(r) == "ns")
}

fn both_truncated(_: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    ours.tc && same_header(ours, theirs)
}

fn default_ttl(asked: &Asked, ours: &Seen, theirs: &Seen) -> bool {
    !asked.states_ttl && ours.without_ttls() == theirs.without_ttls()
}

/// Results over all zones.
#[derive(Default)]
struct Tally {
    zones: Vec<String>,
    queries: usize,
    mismatches: Vec<String>,
    allowed: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn fail(&mut self, zone: &TestZone, what: &str, detail: String) {
        self.zones
            .push(format!("{:<34} FAILED: {what}", zone.label));
        self.mismatches
            .push(format!("[{}] {what}: {detail}", zone.label));
    }

    fn merge(&mut self, other: Tally) {
        self.zones.extend(other.zones);
        self.queries += other.queries;
        self.mismatches.extend(other.mismatches);
        for (entry, count) in other.allowed {
            *self.allowed.entry(entry).or_default() += count;
        }
    }

    fn summary(&self, reference: Reference, elapsed: Duration) -> String {
        let mut text = format!(
            "against {}: {} zones, {} queries compared, {} mismatches, {:.1} s\n",
            reference.name(),
            self.zones.len(),
            self.queries,
            self.mismatches.len(),
            elapsed.as_secs_f64()
        );
        for zone in &self.zones {
            text.push_str(&format!("  {zone}\n"));
        }
        for (entry, count) in &self.allowed {
            text.push_str(&format!("  allowed by {entry}: {count}\n"));
        }
        text
    }
}
