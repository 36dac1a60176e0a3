//! Records implied by `[[exchange]]` blocks: the namespace (and optionally `autodiscover.`) with
//! the internal addresses in the internal view and the external ones in the external view, and
//! `_autodiscover._tcp SRV 0 0 443 <namespace>.` for every other accepted domain, in every view.
//! They enter the snapshot exactly like records from files, remembering the config line that
//! produced them; a record written in a zone file for the same owner and type wins.

use std::net::IpAddr;
use std::sync::Arc;

use crate::config::{Config, ExchangeConfig};
use crate::dns::name::Name;
use crate::dns::rdata::{Wire, tight};
use crate::dns::rtype;
use crate::located::SourceLoc;
use crate::zonefile::ZoneRecord;

/// The service name Outlook asks for (RFC 2782 owner prefix).
pub(crate) const AUTODISCOVER_SRV_PREFIX: &[u8] = b"\x0d_autodiscover\x04_tcp";
/// HTTPS: the only port Autodiscover uses.
pub(crate) const AUTODISCOVER_PORT: u16 = 443;

/// A generated record and the view it belongs to (`None`: every view).
#[derive(Debug, Clone)]
pub(crate) struct Generated {
    pub view: Option<usize>,
    pub record: ZoneRecord,
}

/// Every record the config's `[[exchange]]` blocks imply.
pub(crate) fn generate(config: &Config) -> Vec<Generated> {
    let file = Arc::new(config.path.clone());
    let mut generated = Vec::new();
    for block in &config.exchange {
        let loc = SourceLoc {
            file: file.clone(),
            line: block.line,
        };
        for host in std::iter::once(&block.namespace).chain(&block.autodiscover) {
            // Inside, each view gets every site's addresses in its order of preference (which
            // of them are answered is the health checks' business).
            for (view, order) in &block.inside {
                for address in order.iter().flat_map(|&site| &block.sites[site].internal) {
                    generated.push(Generated {
                        view: Some(*view),
                        record: address_record(host, *address, block, &loc),
                    });
                }
            }
            if let Some(view) = block.external_view {
                for address in &block.external {
                    generated.push(Generated {
                        view: Some(view),
                        record: address_record(host, *address, block, &loc),
                    });
                }
            }
        }
        for domain in &block.srv_domains {
            if let Some(record) = autodiscover_srv(domain, &block.namespace, block.ttl, &loc) {
                generated.push(Generated { view: None, record });
            }
        }
    }
    generated
}

fn address_record(
    host: &Name,
    address: IpAddr,
    block: &ExchangeConfig,
    loc: &SourceLoc,
) -> ZoneRecord {
    let (rtype, rdata) = match address {
        IpAddr::V4(v4) => (rtype::A, Wire::from_slice(&v4.octets())),
        IpAddr::V6(v6) => (rtype::AAAA, Wire::from_slice(&v6.octets())),
    };
    ZoneRecord {
        owner: host.clone(),
        rtype,
        ttl: block.ttl,
        rdata,
        loc: loc.clone(),
    }
}

/// `_autodiscover._tcp.<domain> SRV 0 0 443 <namespace>.`
fn autodiscover_srv(
    domain: &Name,
    namespace: &Name,
    ttl: u32,
    loc: &SourceLoc,
) -> Option<ZoneRecord> {
    let owner = autodiscover_srv_owner(domain)?;
    let mut rdata = vec![0, 0, 0, 0];
    rdata.extend_from_slice(&AUTODISCOVER_PORT.to_be_bytes());
    rdata.extend_from_slice(namespace.as_wire());
    Some(ZoneRecord {
        owner,
        rtype: rtype::SRV,
        ttl,
        rdata: tight(rdata),
        loc: loc.clone(),
    })
}

/// `_autodiscover._tcp.<domain>`.
pub(crate) fn autodiscover_srv_owner(domain: &Name) -> Option<Name> {
    let mut wire = AUTODISCOVER_SRV_PREFIX.to_vec();
    wire.extend_from_slice(domain.as_wire());
    Name::from_wire(&wire).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srv_owner_is_the_autodiscover_service_name() {
        let domain = Name::parse("fabrikam.example.", None).unwrap();
        assert_eq!(
            autodiscover_srv_owner(&domain).unwrap().to_string(),
            "_autodiscover._tcp.fabrikam.example."
        );
    }
}
