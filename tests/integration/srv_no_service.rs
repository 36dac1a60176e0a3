//! RFC 2782's "no such service" SRV (`_autodiscover._tcp SRV 0 0 0 .`), published on purpose in
//! one view, over the wire: the server starts with it and answers it as written.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::common::*;

/// A config whose internal view says "no Autodiscover over SRV" while the external view points
/// at the namespace loads (before, the record was an error that refused the data, so the server
/// did not start), and each view answers its own SRV over UDP and TCP.
#[test]
fn a_no_service_autodiscover_srv_in_one_view_starts_and_answers() {
    let dir = scratch_dir("srv_no_service");
    std::fs::write(
        dir.join("splitdns.toml"),
        r#"
[[view]]
name = "internal"
clients = ["127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "shared.zone"
[zone.views]
internal = "internal.zone"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("shared.zone"),
        "$ORIGIN contoso.example.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 203.0.113.53\nmail A 203.0.113.10\n_autodiscover._tcp 300 SRV 0 0 443 mail\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("internal.zone"),
        "$ORIGIN contoso.example.\nmail 300 A 10.0.0.11\n_autodiscover._tcp 300 SRV 0 0 0 .\n",
    )
    .unwrap();
    let server = Server::with_config(&dir.join("splitdns.toml"));
    let owner = "_autodiscover._tcp.contoso.example.";
    for via in BOTH {
        let inside = ask(&server, INTERNAL, via, owner, RecordType::SRV);
        assert_eq!(inside.rcode(), ResponseCode::NoError, "{}", inside.dump());
        assert!(inside.aa(), "{}", inside.dump());
        assert_eq!(
            inside.answer(),
            vec![format!("{owner} 300 SRV 0 0 0 .")],
            "{}",
            inside.dump()
        );
        assert!(inside.additional().is_empty(), "{}", inside.dump());
        let outside = ask(&server, EXTERNAL, via, owner, RecordType::SRV);
        assert_eq!(
            outside.answer(),
            vec![format!("{owner} 300 SRV 0 0 443 mail.contoso.example.")],
            "{}",
            outside.dump()
        );
    }
}
