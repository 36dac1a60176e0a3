//! DNSSEC judged from outside the project: splitdns signs every view of the example, differential
//! and random zones (with per-view overrides), and a validating Unbound per view — its trust
//! anchors the DS records of the keys splitdns made — is asked every name and type of each view,
//! and names that do not exist. Each answer from our own data must come back secure (AD) with
//! the rcode splitdns gives directly, and Unbound must log no validation failure at all (which
//! also covers answers that leave our data: CNAMEs out of zone, names below a cut). Each view's
//! AXFR must pass BIND's `dnssec-verify` and Knot's `kzonecheck`, and answers without DO must
//! hold no DNSSEC records (RFC 4035 §3.2.1).
//!
//! Unbound reaches nothing but splitdns: every zone and the root are stub zones pointing at it,
//! and every address outside 127.0.0.0/8 is on its do-not-query list (the differential zones
//! delegate to documentation addresses).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::Message;
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType;

use crate::common::{
    Daemon, EXTERNAL, INTERNAL, Server, Via, exchange, find_program, fixture_dir, free_port, query,
    scratch_dir, tcp_raw, udp_raw, with_edns,
};

/// The DNSSEC types no answer without DO may carry (RRSIG, NSEC, NSEC3), unless asked for.
const DNSSEC_TYPES: &[RecordType] = &[RecordType::RRSIG, RecordType::NSEC, RecordType::NSEC3];
/// Types asked at every name on top of its own.
const COMMON_TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::CNAME,
    RecordType::DS,
];
/// How long Unbound may take to start.
const STARTUP: Duration = Duration::from_secs(10);

/// What the tests need, or why they are skipped.
pub(crate) struct Tools {
    unbound: PathBuf,
    pub(crate) dig: PathBuf,
    dsfromkey: PathBuf,
    verify: Option<PathBuf>,
    kzonecheck: Option<PathBuf>,
}

pub(crate) fn tools() -> Option<Tools> {
    let mut missing = Vec::new();
    let mut need = |binary: &str, package: &str| {
        let found = find_program(binary);
        if found.is_none() {
            missing.push(format!("{binary} (Debian package {package})"));
        }
        found
    };
    let unbound = need("unbound", "unbound");
    let dig = need("dig", "bind9-dnsutils");
    let dsfromkey = need("dnssec-dsfromkey", "bind9-utils");
    if !missing.is_empty() {
        eprintln!("skipped: not found: {}", missing.join(", "));
        return None;
    }
    let verify = find_program("dnssec-verify");
    let kzonecheck = find_program("kzonecheck");
    if kzonecheck.is_none() {
        eprintln!(
            "kzonecheck not found (Debian package knot-dnssecutils): AXFRs not checked by it"
        );
    }
    Some(Tools {
        unbound: unbound?,
        dig: dig?,
        dsfromkey: dsfromkey?,
        verify,
        kzonecheck,
    })
}

/// The views of the test config and the source each is asked from.
const VIEWS: [(&str, IpAddr); 2] = [("internal", INTERNAL), ("external", EXTERNAL)];

#[test]
fn validating_resolvers_find_every_answer_of_both_views_secure_with_nsec() {
    validate_every_answer("dnssec_validation_nsec", Denial::Nsec);
}

#[test]
fn validating_resolvers_find_every_answer_of_both_views_secure_with_nsec3() {
    validate_every_answer("dnssec_validation_nsec3", Denial::Nsec3);
}

/// Authenticated denial of existence, as the policy's `denial` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    Nsec,
    Nsec3,
}

fn validate_every_answer(scratch: &str, denial: Denial) {
    let Some(tools) = tools() else { return };
    let dir = scratch_dir(scratch);
    let seed = seed();
    eprintln!("random zone seed {seed} (SPLITDNS_TEST_SEED={seed} repeats it)");
    let origins = write_zones(&dir, seed);
    let config = write_config(&dir, &origins, denial);
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();

    let mut asked = 0;
    for (view, source) in VIEWS {
        let mut zones = Vec::new();
        for origin in &origins {
            let text = axfr(&tools, &server, source, origin);
            let file = dir.join(format!("{view}.{origin}axfr"));
            fs::write(&file, &text).unwrap();
            verify_offline(&tools, &file, origin);
            zones.push(ZoneNames::parse(origin, &text));
        }
        // The trust anchors are the DS records `splitdns dnssec ds` prints, which must be what
        // BIND's dnssec-dsfromkey computes from the DNSKEY set the view serves.
        let anchors: Vec<String> = zones
            .iter()
            .map(|zone| {
                let ours = crate::dnssec_rollover::dnssec_ds(&config, &zone.origin);
                let bind = trust_anchor(
                    &tools,
                    &dir.join(format!("{view}.{}axfr", zone.origin)),
                    &zone.origin,
                );
                let words = |text: &str| {
                    text.split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect::<Vec<_>>()
                };
                assert_eq!(words(&ours), words(&bind), "DS of {}", zone.origin);
                ours
            })
            .collect();
        let unbound = Unbound::start(&tools, &dir, view, source, &origins, &anchors, daemon.dns);
        for zone in &zones {
            for (name, rtype) in zone.questions() {
                asked += judge(&server, source, &unbound, &zones, &name, rtype);
            }
        }
        let failures = unbound.failures();
        assert!(
            failures.is_empty(),
            "view {view}: Unbound found {} validation failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    eprintln!("{asked} answers validated secure through Unbound");
    assert!(asked > 1000, "only {asked} questions judged");
}

/// Asks `name`/`rtype` of splitdns directly (DO=1 and DO=0) and through the validating Unbound;
/// returns 1 when the answer was judged secure (0 when it leaves our data and only the absence
/// of validation failures is asked of it).
fn judge(
    server: &Server,
    source: IpAddr,
    unbound: &Unbound,
    zones: &[ZoneNames],
    name: &str,
    rtype: RecordType,
) -> usize {
    let direct = ask_dnssec(server, source, name, rtype, true);
    let plain = ask_dnssec(server, source, name, rtype, false);
    for record in plain
        .answers
        .iter()
        .chain(&plain.authorities)
        .chain(&plain.additionals)
    {
        let t = record.record_type();
        assert!(
            t == rtype || !DNSSEC_TYPES.contains(&t),
            "{name} {rtype} without DO carries {t}: {record}"
        );
    }
    // A CNAME or DS query below a DNAME is answered by the DNAME; Unbound, probing for a cut
    // with a DS query there, takes that DNAME for a failure to prove one (whatever the signing):
    // not asked.
    let below_dname = direct
        .answers
        .iter()
        .any(|record| record.record_type() == RecordType::DNAME);
    if below_dname && matches!(rtype, RecordType::CNAME | RecordType::DS) {
        return 0;
    }
    let resolved = unbound.ask(name, rtype);
    if !ours_to_the_end(zones, name, rtype, &direct) {
        return 0;
    }
    // splitdns follows a chain within the zone asked only; a resolver goes on into the next.
    let zone_of = |name: &str| {
        zones
            .iter()
            .filter(|zone| zone.holds(name, true))
            .map(|zone| zone.origin.len())
            .max()
    };
    let last = direct
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::CNAME(target) => Some(target.0.to_ascii().to_ascii_lowercase()),
            _ => None,
        })
        .next_back();
    let rcode = direct.metadata.response_code;
    let whole = last.is_none_or(|last| zone_of(&last) == zone_of(name));
    assert!(
        !whole || resolved.metadata.response_code == rcode,
        "{name} {rtype}: Unbound says {}, splitdns {rcode}\n{resolved}",
        resolved.metadata.response_code
    );
    assert!(
        resolved.metadata.authentic_data,
        "{name} {rtype} ({rcode}) not validated secure by Unbound:\n{resolved}\nsplitdns said:\n{direct}"
    );
    1
}

/// Whether the whole answer comes from our signed data: the name and every CNAME target in
/// a zone of ours and not at or below a delegation (where the answer is the child's to give),
/// and no DS asked at a zone's apex (that is the parent's). A DS query at a cut is ours. A chain
/// that loops is not judged: a resolver's answer to it is SERVFAIL, signed or not.
fn ours_to_the_end(zones: &[ZoneNames], name: &str, rtype: RecordType, direct: &Message) -> bool {
    let targets = direct
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::CNAME(target) => Some(target.0.to_ascii().to_ascii_lowercase()),
            _ => None,
        });
    let mut owners = BTreeSet::from([name.to_string()]);
    for record in &direct.answers {
        if record.record_type() == RecordType::CNAME {
            owners.insert(record.name.to_ascii().to_ascii_lowercase());
        }
    }
    if targets.clone().any(|target| owners.contains(&target)) {
        return false;
    }

    let in_our_data = |name: &str| {
        let ds = rtype == RecordType::DS;
        zones.iter().any(|zone| zone.holds(name, ds))
            && !(ds && zones.iter().any(|zone| zone.origin == name))
    };
    in_our_data(name)
        && direct.answers.iter().all(|record| match &record.data {
            RData::CNAME(target) => in_our_data(&target.0.to_ascii().to_ascii_lowercase()),
            _ => true,
        })
}

/// One query with EDNS (4096 octets) and the DO bit as given, over UDP and again over TCP when
/// truncated.
pub(crate) fn ask_dnssec(
    server: &Server,
    source: IpAddr,
    name: &str,
    rtype: RecordType,
    dnssec_ok: bool,
) -> Message {
    let message = with_edns(query(name, rtype), 4096, dnssec_ok);
    let reply = exchange(server, source, Via::Udp, &message);
    if reply.tc() {
        return exchange(server, source, Via::Tcp, &message).message;
    }
    reply.message
}

/// The names and types of one view's copy of a zone, from its AXFR.
struct ZoneNames {
    origin: String,
    names: BTreeMap<String, BTreeSet<RecordType>>,
    cuts: BTreeSet<String>,
}

impl ZoneNames {
    fn parse(origin: &str, axfr: &str) -> ZoneNames {
        let mut names: BTreeMap<String, BTreeSet<RecordType>> = BTreeMap::new();
        let mut cuts = BTreeSet::new();
        for line in axfr
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let owner = fields[0].to_ascii_lowercase();
            let rtype: RecordType = fields[3].parse().unwrap_or(RecordType::Unknown(0));
            // Hashed owners are no names of the zone (RFC 5155 §7.2.8): asked all the same, they
            // must be proven not to exist.
            if rtype == RecordType::NSEC3 || (rtype == RecordType::RRSIG && fields[4] == "NSEC3") {
                names.entry(owner).or_default();
                continue;
            }
            if rtype == RecordType::NS && owner != origin {
                cuts.insert(owner.clone());
            }
            names.entry(owner).or_default().insert(rtype);
        }
        // Empty non-terminals: every name between an owner and the origin.
        let owners: Vec<String> = names.keys().cloned().collect();
        for owner in owners {
            let mut name = owner.as_str();
            while let Some((_, parent)) = name.split_once('.') {
                if parent.len() <= origin.len() {
                    break;
                }
                names.entry(parent.to_string()).or_default();
                name = parent;
            }
        }
        ZoneNames {
            origin: origin.to_string(),
            names,
            cuts,
        }
    }

    /// Whether `name` is this zone's to answer with signed data.
    fn holds(&self, name: &str, at_cut_ok: bool) -> bool {
        let below = |name: &str, of: &str| name == of || name.ends_with(&format!(".{of}"));
        below(name, &self.origin)
            && !self
                .cuts
                .iter()
                .any(|cut| below(name, cut) && !(at_cut_ok && name == cut))
    }

    /// Every name × its own types and the common ones, a name below each that does not exist
    /// (or that a wildcard covers), and the apex's DNSKEY.
    fn questions(&self) -> Vec<(String, RecordType)> {
        let mut questions = vec![(self.origin.clone(), RecordType::DNSKEY)];
        for (name, types) in &self.names {
            let mut asked: BTreeSet<RecordType> = COMMON_TYPES.iter().copied().collect();
            asked.extend(
                types
                    .iter()
                    .filter(|t| !DNSSEC_TYPES.contains(t) && **t != RecordType::Unknown(0)),
            );
            for rtype in asked {
                questions.push((name.clone(), rtype));
            }
            let below = match name.strip_prefix("*.") {
                Some(parent) => format!("matched-by-wildcard.{parent}"),
                None => format!("no-such-name.{name}"),
            };
            questions.push((below.clone(), RecordType::A));
            questions.push((below, RecordType::TXT));
        }
        questions
    }
}

/// `dig AXFR` of `origin` from `source`.
fn axfr(tools: &Tools, server: &Server, source: IpAddr, origin: &str) -> String {
    let output = Command::new(&tools.dig)
        .args([
            "+onesoa",
            "+nocmd",
            "+nostats",
            "+nocomments",
            "+noquestion",
        ])
        .arg(format!("@{}", server.addr.ip()))
        .args(["-p", &server.addr.port().to_string()])
        .args(["-b", &source.to_string()])
        .args([origin, "AXFR"])
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && text.contains("RRSIG") && !text.contains("Transfer failed"),
        "AXFR of {origin} from {source} failed or is unsigned:\n{text}"
    );
    text
}

/// `dnssec-verify` and `kzonecheck` on one view's AXFR. `-z`: a CSK is both the KSK and the ZSK,
/// and dnssec-verify counts only keys without the SEP flag as ZSKs unless told so.
fn verify_offline(tools: &Tools, file: &Path, origin: &str) {
    if let Some(verify) = &tools.verify {
        let output = Command::new(verify)
            .args(["-z", "-o", origin])
            .arg(file)
            .output()
            .expect("run dnssec-verify");
        assert!(
            output.status.success(),
            "dnssec-verify rejects {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // The differential zones hold deliberate content faults (missing glue, …) that kzonecheck
    // reports with or without DNSSEC: what signing must not add is a fault of its own.
    if let Some(kzonecheck) = &tools.kzonecheck {
        let faults = |dnssec: &str| {
            let output = Command::new(kzonecheck)
                .args(["-o", origin, "-d", dnssec])
                .arg(file)
                .output()
                .expect("run kzonecheck");
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&output.stderr).lines())
                .filter(|line| line.starts_with('['))
                .map(String::from)
                .collect::<BTreeSet<String>>()
        };
        let content = faults("off");
        let signed: Vec<String> = faults("on").difference(&content).cloned().collect();
        assert!(
            signed.is_empty(),
            "kzonecheck finds DNSSEC faults in {}:\n{}",
            file.display(),
            signed.join("\n")
        );
    }
}

/// The DS record of the zone's SEP key, as `dnssec-dsfromkey` computes it from the AXFR.
pub(crate) fn trust_anchor(tools: &Tools, axfr: &Path, origin: &str) -> String {
    let output = Command::new(&tools.dsfromkey)
        .args(["-2", "-f"])
        .arg(axfr)
        .arg(origin)
        .output()
        .expect("run dnssec-dsfromkey");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(
        output.status.success() && text.contains(" DS "),
        "dnssec-dsfromkey on {}: {}",
        axfr.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// A validating Unbound that sends from `source` (so it gets that view) and knows only one
/// server: splitdns, or a secondary of one of its views.
pub(crate) struct Unbound {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Unbound {
    /// Its files in `dir` are named after `label`; every zone of `origins` and the root are stub
    /// zones at `stub`.
    pub(crate) fn start(
        tools: &Tools,
        dir: &Path,
        label: &str,
        source: IpAddr,
        origins: &[String],
        anchors: &[String],
        stub: SocketAddr,
    ) -> Unbound {
        let port = free_port();
        let d = dir.display();
        let mut conf = format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
             chroot: \"\"\n  username: \"\"\n  pidfile: \"\"\n  directory: \"{d}\"\n  \
             use-syslog: no\n  logfile: \"\"\n  verbosity: 1\n  val-log-level: 2\n  \
             num-threads: 1\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  \
             outgoing-interface: {source}\n  do-ip6: no\n  module-config: \"validator iterator\"\n  \
             qname-minimisation: no\n  aggressive-nsec: no\n  harden-referral-path: no\n  \
             trust-anchor-signaling: no\n  root-key-sentinel: no\n"
        );
        // Everything but 127.0.0.0/8.
        for block in [
            "0.0.0.0/2",
            "64.0.0.0/3",
            "96.0.0.0/4",
            "112.0.0.0/5",
            "120.0.0.0/6",
            "124.0.0.0/7",
            "126.0.0.0/8",
            "128.0.0.0/1",
        ] {
            conf.push_str(&format!("  do-not-query-address: {block}\n"));
        }
        for anchor in anchors {
            conf.push_str(&format!("  trust-anchor: \"{anchor}\"\n"));
        }
        for zone in origins.iter().map(String::as_str).chain(["."]) {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{zone}\"\n  stub-addr: {}@{}\n",
                stub.ip(),
                stub.port()
            ));
        }
        conf.push_str("remote-control:\n  control-enable: no\n");
        let path = dir.join(format!("unbound-{label}.conf"));
        fs::write(&path, conf).unwrap();
        let log = dir.join(format!("unbound-{label}.log"));
        let child = Command::new(&tools.unbound)
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(File::create(log.with_extension("out")).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start unbound");
        let unbound = Unbound {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
        };
        unbound.wait_ready(&origins[0]);
        unbound
    }

    fn wait_ready(&self, origin: &str) {
        let deadline = Instant::now() + STARTUP;
        let bytes = query(origin, RecordType::SOA).to_vec().unwrap();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            let _ = socket.send_to(&bytes, self.addr);
            if socket.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("Unbound did not answer within {STARTUP:?}:\n{}", self.log());
    }

    /// A recursive query with DO (over TCP when truncated); not held to what the harness asks of
    /// an authoritative answer.
    pub(crate) fn ask(&self, name: &str, rtype: RecordType) -> Message {
        let message = with_edns(query(name, rtype), 4096, true);
        ask_recursive(
            &Server::remote(self.addr),
            IpAddr::from([127, 0, 0, 1]),
            &message,
        )
    }

    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The lines of its log that report a validation failure.
    pub(crate) fn failures(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.contains("validation failure") || line.contains("bogus"))
            .map(String::from)
            .collect()
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `message` from `source` (over TCP again when truncated), decoded without the harness's checks
/// of an authoritative-only answer: for a resolver, or a view that recurses.
fn ask_recursive(server: &Server, source: IpAddr, message: &Message) -> Message {
    let bytes = message.to_vec().unwrap();
    let reply = Message::from_vec(&udp_raw(server, source, &bytes)).expect("decode");
    if !reply.metadata.truncation {
        return reply;
    }
    Message::from_vec(&tcp_raw(server, source, &bytes)).expect("decode")
}

/// The seed of the random zone: SPLITDNS_TEST_SEED, or the clock.
pub(crate) fn seed() -> u64 {
    std::env::var("SPLITDNS_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// The zones of the test in `dir`: the differential fixtures, the split fixture's contoso and
/// fabrikam (with their per-view overrides) and a random zone with a random internal override.
/// Returns their origins (with the trailing dot).
pub(crate) fn write_zones(dir: &Path, seed: u64) -> Vec<String> {
    let mut origins = Vec::new();
    for fixture in ["differential", "split"] {
        for entry in fs::read_dir(fixture_dir(fixture)).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_str().unwrap().to_string();
            if !file.ends_with(".zone") {
                continue;
            }
            fs::copy(&path, dir.join(&file)).unwrap();
            let stem = file.trim_end_matches(".zone");
            if !stem.ends_with(".internal") && !stem.ends_with(".external") {
                origins.push(format!("{stem}."));
            }
        }
    }
    let (zone, overrides) = random_zone(seed);
    fs::write(dir.join("random.example.zone"), zone).unwrap();
    fs::write(dir.join("random.example.internal.zone"), overrides).unwrap();
    origins.push("random.example.".into());
    // The Autodiscover SRV zone [[exchange]] synthesises for an accepted domain no zone holds.
    origins.push(SYNTHESISED.into());
    origins.sort();
    origins
}

/// The zone `write_config`'s `[[exchange]]` block makes, signed as its namespace's zone is.
const SYNTHESISED: &str = "_autodiscover._tcp.northwind.example.";

pub(crate) fn write_config(dir: &Path, origins: &[String], denial: Denial) -> PathBuf {
    fs::create_dir_all(dir.join("state")).unwrap();
    let policy = match denial {
        Denial::Nsec => "true",
        Denial::Nsec3 => "\"nsec3\"",
    };
    let mut config = String::from(
        "# Written by tests/integration/dnssec.rs.\nstate_dir = \"state\"\n\n\
         [[dnssec_policy]]\nname = \"nsec3\"\ndenial = \"nsec3\"\n\n\
         [[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\n\
         transfer = { allow = [\"127.0.0.0/8\"] }\n[view.rrl]\nenabled = false\n\n\
         [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\
         transfer = { allow = [\"127.0.0.0/8\"] }\n[view.rrl]\nenabled = false\n\n",
    );
    config.push_str(
        "[[exchange]]\nnamespace = \"exch.contoso.example\"\ninternal = [\"10.0.0.11\", \"10.0.0.12\"]\n\
         external = [\"203.0.113.10\"]\nsrv_domains = [\"northwind.example\"]\n\n",
    );
    for origin in origins.iter().filter(|origin| *origin != SYNTHESISED) {
        let origin = origin.trim_end_matches('.');
        config.push_str(&format!(
            "[[zone]]\norigin = \"{origin}\"\nfile = \"{origin}.zone\"\ndnssec = {policy}\n"
        ));
        let views: Vec<String> = ["internal", "external"]
            .into_iter()
            .filter(|view| dir.join(format!("{origin}.{view}.zone")).exists())
            .map(|view| format!("{view} = \"{origin}.{view}.zone\""))
            .collect();
        if !views.is_empty() {
            config.push_str(&format!("[zone.views]\n{}\n", views.join("\n")));
        }
        config.push('\n');
    }
    let path = dir.join("splitdns.toml");
    fs::write(&path, config).unwrap();
    path
}

/// SplitMix64.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random zone (names up to three labels deep from a small alphabet, so that names share
/// parents and empty non-terminals; A, AAAA, TXT, MX, CNAME, wildcards, a delegation) and an
/// internal override file replacing some of its RRsets and adding names.
fn random_zone(seed: u64) -> (String, String) {
    let mut random = Random(seed);
    let labels = ["a", "b", "c", "mail", "www", "x1", "_tcp", "z"];
    let name = |random: &mut Random| {
        let depth = 1 + random.below(3);
        (0..depth)
            .map(|_| labels[random.below(labels.len() as u64) as usize])
            .collect::<Vec<_>>()
            .join(".")
    };
    let mut zone = String::from(
        "$ORIGIN random.example.\n$TTL 600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n\
         @ NS ns1\nns1 A 192.0.2.53\n\
         sub NS ns.sub\nns.sub A 192.0.2.54\n",
    );
    let mut taken = BTreeSet::new();
    for _ in 0..40 {
        let owner = name(&mut random);
        if owner.starts_with("sub") || owner == "ns1" || !taken.insert(owner.clone()) {
            continue;
        }
        let owner = if random.below(8) == 0 {
            format!("*.{owner}")
        } else {
            owner
        };
        match random.below(6) {
            0 => zone.push_str(&format!("{owner} CNAME {}\n", name(&mut random))),
            1 => zone.push_str(&format!("{owner} AAAA 2001:db8::{}\n", random.below(999))),
            2 => zone.push_str(&format!("{owner} MX 10 {}\n", name(&mut random))),
            3 => zone.push_str(&format!("{owner} TXT \"t{}\"\n", random.next())),
            _ => {
                for _ in 0..=random.below(3) {
                    zone.push_str(&format!("{owner} A 192.0.2.{}\n", random.below(250)));
                }
            }
        }
    }
    let mut overrides = String::from("$ORIGIN random.example.\n$TTL 300\n");
    for owner in &taken {
        if random.below(3) == 0 && !zone.contains(&format!("\n{owner} CNAME")) {
            overrides.push_str(&format!("{owner} A 10.0.0.{}\n", random.below(250)));
        }
    }
    for i in 0..5 {
        overrides.push_str(&format!("inside{i}.{} A 10.1.0.{i}\n", name(&mut random)));
    }
    (zone, overrides)
}

/// The expiration of each RRSIG in the answer of `name`/`rtype` (DO=1), and the SOA serial.
fn expirations(server: &Server, name: &str, rtype: RecordType) -> Vec<u32> {
    let reply = exchange(
        server,
        EXTERNAL,
        Via::Udp,
        &with_edns(query(name, rtype), 4096, true),
    );
    reply
        .answer()
        .iter()
        .filter(|line| line.split_whitespace().nth(2) == Some("RRSIG"))
        .map(|line| line.split_whitespace().nth(7).unwrap().parse().unwrap())
        .collect()
}

/// `splitdns_zone_signatures_expire_timestamp_seconds` of refresh.example. from /metrics.
fn signatures_expire(daemon: &Daemon) -> u32 {
    let (code, text) = crate::control::http(daemon.control(), "GET", "/metrics");
    assert_eq!(code, 200, "{text}");
    let line = text
        .lines()
        .find(|line| {
            line.starts_with("splitdns_zone_signatures_expire_timestamp_seconds{")
                && line.contains("zone=\"refresh.example.\"")
        })
        .unwrap_or_else(|| panic!("no signature expiry metric:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn serial(server: &Server) -> u32 {
    let reply = exchange(
        server,
        EXTERNAL,
        Via::Udp,
        &query("refresh.example.", RecordType::SOA),
    );
    reply.answer()[0]
        .split_whitespace()
        .nth(5)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn signatures_are_made_anew_before_they_expire_under_a_raised_serial() {
    let dir = scratch_dir("dnssec_refresh");
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(
        dir.join("refresh.example.zone"),
        "$ORIGIN refresh.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n\
         @ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n",
    )
    .unwrap();
    // Signatures valid 60 s and made anew with 55 s left: the first refresh is due 5 s after
    // the start. A transfer ACL makes the serial splitdns's to raise.
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        "state_dir = \"state\"\n\
         [[dnssec_policy]]\nname = \"fast\"\nsignature_validity = 60\nsignature_refresh = 55\n\
         inception_offset = 0\n\n\
         [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\"]\n\
         transfer = { allow = [\"127.0.0.0/8\"] }\n\n\
         [[zone]]\norigin = \"refresh.example\"\nfile = \"refresh.example.zone\"\ndnssec = \"fast\"\n",
    )
    .unwrap();
    let daemon = Daemon::serve(&config).control().start();
    let server = daemon.server();
    let before = expirations(&server, "www.refresh.example.", RecordType::A);
    let serial_before = serial(&server);
    assert_eq!(before.len(), 1, "one signature over www A");
    // Signed in one pass, all expire together: the metric an admin alerts on says when.
    assert_eq!(signatures_expire(&daemon), before[0]);
    daemon.wait_log(&["reload on signature refresh", "ok"]);
    let after = expirations(&server, "www.refresh.example.", RecordType::A);
    assert!(
        signatures_expire(&daemon) > before[0],
        "the metric did not follow the refresh"
    );
    let status = crate::common::splitdns()
        .args(["status", "--control", &daemon.control().to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.status.success() && text.contains("signed until"),
        "{text}"
    );
    assert!(
        after[0] > before[0],
        "www A still signed to expire at {} (was {})",
        after[0],
        before[0]
    );
    assert!(
        serial(&server) > serial_before,
        "the serial did not rise with the new signatures"
    );
    let soa = expirations(&server, "refresh.example.", RecordType::SOA);
    assert!(
        soa[0] >= after[0],
        "the SOA's signature is older than the data's"
    );
}

/// `check` warns about a view that serves a signed zone unsigned and about DNSSEC records in the
/// file of a zone splitdns signs, each at its file:line; the served zone leaves those records
/// out, and the opted-out view answers without any DNSSEC record, DO or not.
#[test]
fn check_warns_about_unsigned_views_and_dnssec_records_in_zone_files() {
    let dir = scratch_dir("dnssec_checks");
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(
        dir.join("checks.example.zone"),
        "$ORIGIN checks.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n\
         @ NS ns1\nns1 A 192.0.2.53\nwww A 192.0.2.80\n\
         www RRSIG A 13 3 300 20270101000000 20261201000000 12345 checks.example. AAAA\n",
    )
    .unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        "state_dir = \"state\"\n\n\
         [[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\ndnssec = false\n\n\
         [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n\n\
         [[zone]]\norigin = \"checks.example\"\nfile = \"checks.example.zone\"\ndnssec = true\n",
    )
    .unwrap();
    let output = crate::common::splitdns()
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let config_text = config.display().to_string();
    assert!(
        text.contains(&format!("{config_text}:6:"))
            && text.contains("warning[signed-zone-unsigned-in-view] (view internal)"),
        "{text}"
    );
    let zone = dir.join("checks.example.zone").display().to_string();
    assert!(
        text.contains(&format!("{zone}:7:"))
            && text.contains("warning[dnssec-records-in-signed-zone]"),
        "{text}"
    );
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    let outside = ask_dnssec(
        &server,
        EXTERNAL,
        "www.checks.example.",
        RecordType::A,
        true,
    );
    let sigs: Vec<_> = outside
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::RRSIG)
        .collect();
    assert_eq!(sigs.len(), 1, "one RRSIG, splitdns's own: {outside}");
    // The key tag, not the whole text: a signature's times may hold the digits too.
    let signature = sigs[0].to_string();
    let key_tag = signature
        .split_whitespace()
        .skip_while(|token| *token != "RRSIG")
        .nth(7);
    assert!(
        key_tag.is_some_and(|tag| tag != "12345"),
        "the file's RRSIG served: {outside}"
    );
    let inside = ask_dnssec(
        &server,
        INTERNAL,
        "www.checks.example.",
        RecordType::A,
        true,
    );
    assert!(
        inside
            .all_sections()
            .all(|r| !DNSSEC_TYPES.contains(&r.record_type())),
        "the unsigned view answers with DNSSEC records: {inside}"
    );
    let keys = ask_dnssec(
        &server,
        INTERNAL,
        "checks.example.",
        RecordType::DNSKEY,
        true,
    );
    assert!(
        keys.answers.is_empty(),
        "the unsigned view publishes DNSKEY: {keys}"
    );
}

/// A recursive view (the internal resolver) answers its own signed zones signed when asked with
/// DO, CD or not, and without DNSSEC records when asked without DO.
#[test]
fn the_internal_resolver_answers_its_own_zones_signed() {
    let dir = scratch_dir("dnssec_resolver_view");
    fs::create_dir_all(dir.join("state")).unwrap();
    fs::write(
        dir.join("own.example.zone"),
        "$ORIGIN own.example.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n\
         @ NS ns1\nns1 A 192.0.2.53\nwww A 10.0.0.80\n",
    )
    .unwrap();
    // The forwarder is a loopback port nobody answers on: only the view's own zone is asked.
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n\n\
             [[view]]\nname = \"internal\"\nclients = [\"127.0.0.2/32\"]\nrecursion = true\n\
             forwarders = [\"127.0.0.1:{}\"]\n\n\
             [[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\"]\n\n\
             [[zone]]\norigin = \"own.example\"\nfile = \"own.example.zone\"\ndnssec = true\n\
             [zone.views]\ninternal = \"own.example.zone\"\n",
            free_port()
        ),
    )
    .unwrap();
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    let mut asked = with_edns(query("www.own.example.", RecordType::A), 1232, true);
    asked.metadata.checking_disabled = true;
    let reply = ask_recursive(&server, INTERNAL, &asked);
    assert!(
        reply.metadata.authoritative && reply.metadata.checking_disabled,
        "{reply}"
    );
    let types: Vec<RecordType> = reply.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::A, RecordType::RRSIG], "{reply}");
    let missing = ask_recursive(
        &server,
        INTERNAL,
        &with_edns(query("nothing.own.example.", RecordType::A), 1232, true),
    );
    assert!(
        missing
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC),
        "NXDOMAIN without its proof: {missing}"
    );
    let plain = ask_recursive(
        &server,
        INTERNAL,
        &with_edns(query("www.own.example.", RecordType::A), 1232, false),
    );
    assert!(
        plain
            .all_sections()
            .all(|r| !DNSSEC_TYPES.contains(&r.record_type())),
        "{plain}"
    );
}

/// A health-checked RRset of a signed zone answers the addresses that are up, each subset with
/// its own signature: a validating resolver finds every answer secure as addresses go down.
#[test]
fn health_checked_answers_are_signed_as_answered() {
    let Some(tools) = tools() else { return };
    let dir = scratch_dir("dnssec_health");
    fs::create_dir_all(dir.join("state")).unwrap();
    let addresses: Vec<IpAddr> = (41..=43)
        .map(|last| IpAddr::from([127, 0, 0, last]))
        .collect();
    let port = crate::common::free_port_on(&addresses);
    fs::write(
        dir.join("checked.example.zone"),
        "$ORIGIN checked.example.\n$TTL 1\n@ SOA ns1 hostmaster 1 3600 900 604800 1\n\
         @ NS ns1\nns1 A 192.0.2.53\n\
         www A 127.0.0.41\nwww A 127.0.0.42\nwww A 127.0.0.43\n",
    )
    .unwrap();
    let config = dir.join("splitdns.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"state\"\n\n\
             [[view]]\nname = \"everyone\"\nclients = [\"0.0.0.0/0\"]\n\n\
             [[zone]]\norigin = \"checked.example\"\nfile = \"checked.example.zone\"\ndnssec = true\n\n\
             [[health]]\nname = \"www.checked.example\"\nkind = \"tcp\"\nport = {port}\nttl = 1\n\
             interval = 0.2\ntimeout = 0.2\nfall = 2\nrise = 2\n"
        ),
    )
    .unwrap();
    // Two of the three up.
    let mut up: Vec<std::net::TcpListener> = addresses[..2]
        .iter()
        .map(|&ip| std::net::TcpListener::bind(SocketAddr::new(ip, port)).unwrap())
        .collect();
    let daemon = Daemon::serve(&config).start();
    let server = daemon.server();
    let answered = |count: usize| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = ask_dnssec(
                &server,
                EXTERNAL,
                "www.checked.example.",
                RecordType::A,
                true,
            );
            let addresses = reply
                .answers
                .iter()
                .filter(|r| r.record_type() == RecordType::A)
                .count();
            if addresses == count {
                return;
            }
            assert!(Instant::now() < deadline, "not {count} addresses: {reply}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    answered(2);
    let unbound = Unbound::start(
        &tools,
        &dir,
        "health",
        EXTERNAL,
        &["checked.example.".to_string()],
        &[crate::dnssec_rollover::dnssec_ds(
            &config,
            "checked.example",
        )],
        daemon.dns,
    );
    let secure_with = |count: usize| {
        // The resolver's copy lives a second (TTL 1): asked until it has the new subset.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = unbound.ask("www.checked.example.", RecordType::A);
            assert!(
                reply.metadata.authentic_data,
                "not secure: {reply}\n{}",
                unbound.log()
            );
            let n = reply
                .answers
                .iter()
                .filter(|r| r.record_type() == RecordType::A)
                .count();
            if n == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Unbound does not get {count} addresses: {reply}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    secure_with(2);
    up.pop();
    answered(1);
    secure_with(1);
    up.push(std::net::TcpListener::bind(SocketAddr::new(addresses[2], port)).unwrap());
    answered(2);
    secure_with(2);
    let failures = unbound.failures();
    assert!(
        failures.is_empty(),
        "validation failures:\n{}",
        failures.join("\n")
    );
}
