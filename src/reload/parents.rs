//! The parent's side of a KSK or CSK rollover: for each signed zone whose rollover waits for the
//! new DS and whose `parent_agents` are listed, the agents are asked for the zone's DS; once
//! every one serves the new keys' DS and none the old keys', the old keys retire as
//! `splitdns dnssec ds-seen` would make them. Asked by the reload loop before a signing reload,
//! outside the reload transaction: the network never holds up loading, and what is learnt is
//! written to the key files, which the reload then reads.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use crate::config;
use crate::dns::name::Name;
use crate::dns::rtype;
use crate::dnssec::keyring::{self, AwaitingDs, Create};
use crate::load::sign::{key_dir, signed_zones};
use crate::wire::reader;

/// How long one agent may take to answer.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// Asks the parent agents of every zone whose rollover waits for the DS, and retires the old keys
/// of those whose agents all serve the new DS. Blocking (UDP queries): run off the runtime.
pub(crate) fn ask(config_path: &Path, now: u64) {
    let Ok(config) = config::load(config_path) else {
        // The reload that follows reports what is wrong with it.
        return;
    };
    let Some(state_dir) = &config.state_dir else {
        return;
    };
    let dir = key_dir(state_dir);
    for zone in signed_zones(&config) {
        if zone.parent_agents.is_empty() {
            continue;
        }
        let Ok(Some(keys)) = keyring::zone_keys(&dir, &zone.origin, &zone.policy, now, Create::No)
        else {
            continue;
        };
        let Some(awaiting) = keys.awaiting_ds else {
            continue;
        };
        let mut unseen = Vec::new();
        for &agent in &zone.parent_agents {
            match parent_ds(agent, &zone.origin) {
                Ok(ds) if switched(&awaiting, &ds) => {}
                Ok(_) => unseen.push(format!("{agent}: not the new DS yet")),
                Err(why) => unseen.push(format!("{agent}: {why}")),
            }
        }
        if !unseen.is_empty() {
            tracing::info!(
                "zone {}: the KSK/CSK rollover waits for the parent's DS ({})",
                zone.origin,
                unseen.join("; ")
            );
            continue;
        }
        match keyring::ds_seen(&dir, &zone.origin, &zone.policy, now) {
            Ok(retired) => {
                for (tag, inactive) in retired {
                    tracing::info!(
                        "zone {}: every parent agent serves the new DS: key {tag} stops signing at {}",
                        zone.origin,
                        crate::dns::time::utc(inactive)
                    );
                }
            }
            Err(errors) => {
                for error in errors {
                    tracing::error!("zone {}: {error}", zone.origin);
                }
            }
        }
    }
}

/// Whether a parent's DS RDATA serve every new key and no old one.
fn switched(awaiting: &AwaitingDs, served: &[Vec<u8>]) -> bool {
    awaiting.new.iter().all(|ds| served.contains(ds))
        && !awaiting.old.iter().any(|ds| served.contains(ds))
}

/// The DS RDATA `agent` serves for `origin` (none when it answers NODATA).
fn parent_ds(agent: SocketAddr, origin: &Name) -> Result<Vec<Vec<u8>>, String> {
    let socket = UdpSocket::bind(match agent {
        SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    })
    .map_err(|e| format!("socket: {e}"))?;
    socket
        .set_read_timeout(Some(ANSWER_WAIT))
        .map_err(|e| format!("socket: {e}"))?;
    socket.connect(agent).map_err(|e| format!("connect: {e}"))?;
    let id: u16 = rand::random();
    socket
        .send(&ds_query(id, origin))
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = [0u8; 4096];
    loop {
        let len = socket.recv(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                format!("no answer within {ANSWER_WAIT:?}")
            }
            _ => format!("receive: {e}"),
        })?;
        let Some(message) = reader::read(&buf[..len]) else {
            continue;
        };
        if message.id != id {
            continue;
        }
        if message.rcode != 0 {
            return Err(format!("rcode {}", message.rcode));
        }
        let owner = origin.to_lowercase();
        return Ok(message
            .answer
            .into_iter()
            .filter(|record| {
                record.rtype == rtype::DS && record.owner.eq_ignore_ascii_case(owner.as_wire())
            })
            .map(|record| record.rdata)
            .collect());
    }
}

/// A DS query for `origin`, with EDNS (4096) and RD clear: the agents are authoritative.
fn ds_query(id: u16, origin: &Name) -> Vec<u8> {
    let mut query = Vec::with_capacity(12 + origin.as_wire().len() + 4 + 11);
    query.extend_from_slice(&id.to_be_bytes());
    query.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    query.extend_from_slice(origin.as_wire());
    query.extend_from_slice(&rtype::DS.to_be_bytes());
    query.extend_from_slice(&1u16.to_be_bytes());
    // OPT: root owner, type 41, payload 4096, no extended flags, no options.
    query.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    query
}
