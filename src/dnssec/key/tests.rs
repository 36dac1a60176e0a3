//! The key files against BIND's own tools: keys `dnssec-keygen` makes and `dnssec-settime` times
//! are read as BIND reads them, and keys splitdns writes are read, used and verified by
//! `dnssec-dsfromkey`, `dnssec-settime`, `dnssec-signzone` and `dnssec-verify`. A test whose
//! tool is not installed says so and passes (bind9-utils has them all). The helpers that run the
//! tools serve the signer's tests too ([`super::super::rrsig`]).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};

use super::*;
use crate::dns::rtype;
use crate::scratch::Scratch;

pub(crate) fn name(text: &str) -> Name {
    Name::parse(text, None).unwrap()
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A BIND tool, or `None` after saying that the test is skipped.
pub(crate) fn tool(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["/usr/sbin", "/usr/bin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        eprintln!("skipped: {program} not found (apt-get install bind9-utils)");
    }
    found
}

/// Runs a tool; its standard output, or a panic with everything it said.
pub(crate) fn run(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?}: {}\n{}{}",
        program.display(),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Whether `signature` over `data` verifies under the key's public key, by ring's verifier.
fn verifies(key: &SigningKey, data: &[u8], signature: &[u8]) -> bool {
    match key.algorithm() {
        Algorithm::EcdsaP256Sha256 => {
            let point = [&[0x04], key.public_key()].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).verify(data, signature)
        }
        Algorithm::Ed25519 => {
            UnparsedPublicKey::new(&ED25519, key.public_key()).verify(data, signature)
        }
    }
    .is_ok()
}

#[test]
fn algorithms_by_mnemonic_and_number() {
    for (text, algorithm) in [
        ("ECDSAP256SHA256", Some(Algorithm::EcdsaP256Sha256)),
        ("ecdsap256sha256", Some(Algorithm::EcdsaP256Sha256)),
        ("13", Some(Algorithm::EcdsaP256Sha256)),
        ("Ed25519", Some(Algorithm::Ed25519)),
        ("15", Some(Algorithm::Ed25519)),
        ("RSASHA256", None),
        ("8", None),
        ("", None),
    ] {
        assert_eq!(Algorithm::parse(text), algorithm, "{text:?}");
    }
    for algorithm in Algorithm::ALL {
        assert_eq!(Algorithm::parse(algorithm.mnemonic()), Some(algorithm));
        assert_eq!(algorithm.signature_len(), 64);
    }
}

/// The examples of RFC 6605 §6.1 and RFC 8080 §6.1: the private keys belong to the public keys
/// (ring checks), and tags and DS records are the RFCs'.
#[test]
fn rfc_example_keys() {
    let dir = Scratch::new("key-rfc");
    for (stem, key, private, ds) in [
        (
            "Kexample.net.+013+55648",
            "example.net. 3600 IN DNSKEY 257 3 13 GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==",
            "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ=\n",
            "example.net. IN DS 55648 13 2 B4C8C1FE2E7477127B27115656AD6256F424625BF5C1E2770CE6D6E37DF61D17",
        ),
        (
            "Kexample.com.+015+03613",
            "example.com. 3600 IN DNSKEY 257 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
            "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n",
            "example.com. IN DS 3613 15 2 3AA5AB37EFCE57F737FC1627013FEE07BDF241BD10F3B1964AB55C78E79A304B",
        ),
    ] {
        dir.write(&format!("{stem}.key"), &format!("{key}\n"));
        dir.write(&format!("{stem}.private"), private);
        let read = SigningKey::read(&dir.join(&format!("{stem}.key"))).unwrap();
        assert_eq!(read.file_stem(), stem);
        assert_eq!(read.ds_text(DigestType::Sha256), ds);
        assert_eq!(read.ttl, Some(3600));
        assert!(read.is_sep());
        let data = b"signed by the RFC's key";
        assert!(verifies(&read, data, &read.sign(data)));
    }
}

#[test]
fn generated_keys_are_written_and_read_back() {
    let dir = Scratch::new("key-roundtrip");
    let origin = name("Example.COM.");
    for algorithm in Algorithm::ALL {
        for flags in [257, 256] {
            let mut key = SigningKey::generate(&origin, algorithm, flags, 1_796_644_150).unwrap();
            assert_eq!(key.flags(), flags);
            assert_eq!(key.is_sep(), flags == 257);
            assert_eq!(key.tag(), key_tag(key.dnskey_rdata()));
            assert_eq!(
                key.dnskey_rdata()[..4],
                [(flags >> 8) as u8, flags as u8, 3, algorithm.number()]
            );
            let data = b"some RRset in canonical form";
            let signature = key.sign(data);
            assert_eq!(signature.len(), algorithm.signature_len());
            assert!(verifies(&key, data, &signature));
            assert!(!verifies(&key, b"other data", &signature));

            key.set_timing(Timing {
                created: Some(1_796_644_150),
                publish: Some(1_796_644_151),
                activate: Some(1_796_644_152),
                inactive: Some(1_800_000_000),
                delete: Some(1_900_000_000),
                sync_publish: Some(1_796_644_153),
                sync_delete: Some(1_850_000_000),
            });
            let (key_path, private_path) = key.write(dir.path()).unwrap();
            assert_eq!(key_path, dir.join(&format!("{}.key", key.file_stem())));
            assert!(
                key.file_stem()
                    .starts_with(&format!("Kexample.com.+{:03}+", algorithm.number()))
            );
            let private_mode = std::fs::metadata(&private_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(private_mode & 0o777, 0o600, "{}", private_path.display());
            let key_mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(key_mode & 0o622, 0o600, "{}", key_path.display());

            let read = SigningKey::read(&key_path).unwrap();
            assert_eq!(read.origin, origin);
            assert_eq!(read.dnskey_rdata(), key.dnskey_rdata());
            assert_eq!(read.tag(), key.tag());
            assert_eq!(read.timing(), key.timing());
            assert_eq!(read.private, key.private);
            assert!(verifies(&read, data, &key.sign(data)));
            assert!(verifies(&key, data, &read.sign(data)));
            assert_eq!(SigningKey::read(&private_path).unwrap().tag(), key.tag());

            // Written again (new times): the same key, so it may replace itself.
            key.set_timing(Timing::default());
            key.write(dir.path()).unwrap();
            assert_eq!(
                SigningKey::read(&key_path).unwrap().timing(),
                &Timing::default()
            );
        }
    }
    assert!(
        !dir.path().read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp"))
    );
}

#[test]
fn the_key_file_is_bind_s() {
    let mut key =
        SigningKey::generate(&name("example.com."), Algorithm::EcdsaP256Sha256, 257, 0).unwrap();
    key.set_timing(Timing {
        created: Some(1_796_644_150),
        sync_publish: Some(1_796_644_196),
        ..Timing::default()
    });
    let text = key.key_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "; This is a key-signing key, keyid {}, for example.com.",
            key.tag()
        )
    );
    assert_eq!(
        lines[1],
        "; Created: 20261207114910 (Mon Dec  7 11:49:10 2026)"
    );
    assert_eq!(
        lines[2],
        "; SyncPublish: 20261207114956 (Mon Dec  7 11:49:56 2026)"
    );
    assert_eq!(lines[3], key.dnskey_text(0).replace(" 0 IN ", " IN "));
    assert_eq!(lines.len(), 4);
    let private = key.private_text();
    assert!(
        private
            .starts_with("Private-key-format: v1.3\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: ")
    );
    assert!(
        private.ends_with("\nCreated: 20261207114910\nSyncPublish: 20261207114956\n"),
        "{private}"
    );
}

#[test]
fn file_names_as_bind_writes_them() {
    for (zone, stem) in [
        ("Example.COM.", "example.com."),
        (".", "."),
        ("0/25.2.0.192.in-addr.arpa.", "0%2F25.2.0.192.in-addr.arpa."),
        // As dnssec-keygen 9.18 names the files of this zone.
        (
            r#"x\.y.a*b.c@d.e$f.g(h).i;j.k\001l.m"n.o\ p.q+r=s~t."#,
            "x%2Ey.a%2Ab.c%40d.e%24f.g%28h%29.i%3Bj.k%01l.m%22n.o%20p.q%2Br%3Ds%7Et.",
        ),
        ("A_b-c.example.", "a_b-c.example."),
    ] {
        assert_eq!(file_name_text(&name(zone)), stem, "{zone}");
    }
}

#[test]
fn read_dir_takes_the_zone_s_keys_only() {
    let dir = Scratch::new("key-readdir");
    let write = |zone: &str, flags| {
        let key =
            SigningKey::generate(&name(zone), Algorithm::Ed25519, flags, 1_796_644_150).unwrap();
        key.write(dir.path()).unwrap();
        key
    };
    let ksk = write("example.com.", 257);
    let zsk = write("EXAMPLE.com.", 256);
    write("sub.example.com.", 257);
    write("example.org.", 257);
    write("com.", 257);
    // What else BIND and editors leave in a key directory.
    dir.write(
        &format!("{}.state", ksk.file_stem()),
        "; This is the state of key 1\n",
    );
    dir.write(
        "Kexample.com.+015+00001.private",
        "Private-key-format: v1.3\n",
    );
    dir.write("Kexample.com.+015+00002.key~", "junk");
    dir.write(".Kexample.com.+015+00003.key.1-1.tmp", "junk");
    dir.write("Kexample.com.+015.key", "junk");
    for zone in ["example.com.", "Example.Com."] {
        let keys = read_dir(dir.path(), &name(zone)).unwrap();
        let mut tags: Vec<u16> = keys.iter().map(SigningKey::tag).collect();
        tags.sort_unstable();
        let mut expected = vec![ksk.tag(), zsk.tag()];
        expected.sort_unstable();
        assert_eq!(tags, expected, "{zone}");
    }
    assert!(
        read_dir(dir.path(), &name("example.net."))
            .unwrap()
            .is_empty()
    );
    assert!(read_dir(&dir.join("missing"), &name("example.com.")).is_err());
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = Scratch::new("key-errors");
    let key = SigningKey::generate(
        &name("example.com."),
        Algorithm::EcdsaP256Sha256,
        257,
        1_796_644_150,
    )
    .unwrap();
    let (key_path, private_path) = key.write(dir.path()).unwrap();
    let (key_text, private_text) = (key.key_text(), key.private_text());
    let last = key_text.lines().count();
    let owner_line = key_text.lines().last().unwrap().to_string();
    let cases: Vec<(&Path, String, String)> = vec![
        (
            &key_path,
            key_text.replace("IN DNSKEY 257 3", "IN DNSKEY 257 2"),
            format!(":{last}: protocol \"2\""),
        ),
        (
            &key_path,
            key_text.replace("IN DNSKEY 257", "IN DNSKEY 1"),
            format!(":{last}: flags 1: not a zone key"),
        ),
        (
            &key_path,
            key_text.replace("IN DNSKEY", "IN DNSKEX"),
            format!(":{last}: expected `example.com. [TTL] IN DNSKEY"),
        ),
        (
            &key_path,
            key_text.replace("example.com. IN", "example.com IN"),
            format!(":{last}: the owner \"example.com\""),
        ),
        (
            &key_path,
            format!("{key_text}{owner_line}\n"),
            format!(":{}: a second record", last + 1),
        ),
        (
            &key_path,
            key_text.replace(&owner_line, &owner_line[..owner_line.len() - 8]),
            format!(":{last}: the public key"),
        ),
        (
            &key_path,
            key_text.replace(" 13 ", " 8 "),
            format!(":{last}: algorithm 8 (RSASHA256) is not one splitdns signs with"),
        ),
        (
            &key_path,
            "; only a comment\n".into(),
            ": no DNSKEY record in it".into(),
        ),
        (
            &private_path,
            private_text.replace("Algorithm: 13", "Algorithm: 15"),
            ":2: algorithm 15, but".into(),
        ),
        (
            &private_path,
            private_text.replace("Algorithm: 13", "Algorithm: 5"),
            ":2: algorithm 5 (RSASHA1) is not one".into(),
        ),
        (
            &private_path,
            private_text.replace("Created: 2026", "Created: 2026-"),
            ":4: Created \"2026-".into(),
        ),
        (
            &private_path,
            format!("{private_text}Publish: 20261207114910\nPublish: 20261207114910\n"),
            ":7: Publish is given twice".into(),
        ),
        (
            &private_path,
            private_text.replace("PrivateKey: ", "PrivateKey: !"),
            ":3: the private key is not base64".into(),
        ),
        (
            &private_path,
            private_text.replace("Private-key-format: v1.3", "Private-key-format: v2.0"),
            ":1: not a BIND private key file".into(),
        ),
        (
            &private_path,
            private_text.replace("Created: ", "Created "),
            ":4: expected `Tag: value`, found \"Created 2026".into(),
        ),
        (
            &private_path,
            private_text.replace("PrivateKey", "Label"),
            ": no PrivateKey line (a key kept in an HSM".into(),
        ),
        (
            &private_path,
            private_text.replace("PrivateKey: ", "PrivateKey: AAAA"),
            ":3: the private key has 35 octets".into(),
        ),
    ];
    for (path, text, expected) in cases {
        std::fs::write(path, &text).unwrap();
        let error = SigningKey::read(&key_path).unwrap_err().to_string();
        let expected = format!("{}{expected}", path.display());
        assert!(
            error.starts_with(&expected),
            "{error}\n  expected: {expected}…"
        );
        std::fs::write(&key_path, &key_text).unwrap();
        std::fs::write(&private_path, &private_text).unwrap();
    }

    // Another key's private key beside this public key.
    let other =
        SigningKey::generate(&name("example.com."), Algorithm::EcdsaP256Sha256, 257, 0).unwrap();
    std::fs::write(&private_path, other.private_text()).unwrap();
    let error = SigningKey::read(&key_path).unwrap_err().to_string();
    assert!(
        error.contains("does not belong to the public key"),
        "{error}"
    );
    std::fs::write(&private_path, &private_text).unwrap();

    // A key under another key's file name: read_dir says so, and writing over it is refused.
    let misnamed = dir.join(&format!(
        "Kexample.com.+013+{:05}.key",
        key.tag().wrapping_add(1)
    ));
    std::fs::write(&misnamed, &key_text).unwrap();
    std::fs::write(misnamed.with_extension("private"), &private_text).unwrap();
    let errors = read_dir(dir.path(), &name("example.com.")).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .to_string()
            .contains(&format!("the key in it is {}", key.file_stem())),
        "{}",
        errors[0]
    );
    std::fs::write(&private_path, other.private_text()).unwrap();
    let error = key.write(dir.path()).unwrap_err().to_string();
    assert!(error.contains("holds another key"), "{error}");
    assert_eq!(
        std::fs::read_to_string(&private_path).unwrap(),
        other.private_text()
    );
}

#[test]
fn unknown_metadata_is_kept_and_old_short_scalars_are_read() {
    let dir = Scratch::new("key-kept");
    let key = SigningKey::generate(
        &name("example.com."),
        Algorithm::EcdsaP256Sha256,
        257,
        1_796_644_150,
    )
    .unwrap();
    let (key_path, private_path) = key.write(dir.path()).unwrap();
    let text = std::fs::read_to_string(&private_path).unwrap();
    std::fs::write(
        &private_path,
        format!("{text}Revoke: 20301207114910\nLifetime: 0\n"),
    )
    .unwrap();
    let mut read = SigningKey::read(&key_path).unwrap();
    read.set_timing(Timing::default());
    read.write(dir.path()).unwrap();
    let written = std::fs::read_to_string(&private_path).unwrap();
    assert!(
        written.ends_with("\nRevoke: 20301207114910\nLifetime: 0\n"),
        "{written}"
    );

    // A scalar with a leading zero octet, as older BIND versions wrote it: 31 octets.
    let key = std::iter::repeat_with(|| {
        SigningKey::generate(&name("example.com."), Algorithm::EcdsaP256Sha256, 257, 0).unwrap()
    })
    .take(5000)
    .find(|key| key.private[0] == 0)
    .unwrap();
    let (key_path, private_path) = key.write(dir.path()).unwrap();
    let short = key.private_text().replace(
        &BASE64.encode(&key.private),
        &BASE64.encode(&key.private[1..]),
    );
    std::fs::write(&private_path, short).unwrap();
    assert_eq!(SigningKey::read(&key_path).unwrap().private, key.private);
}

/// BIND writes a time more than 68 years ahead 2^32 seconds earlier (its times are 32 bits):
/// dnssec-keygen in 2026 writes `-D 20990101000000` as this.
#[test]
fn bind_s_wrapped_times_are_the_later_ones() {
    let dir = Scratch::new("key-wrapped");
    let key = SigningKey::generate(
        &name("example.com."),
        Algorithm::Ed25519,
        256,
        1_796_644_150,
    )
    .unwrap();
    let (key_path, private_path) = key.write(dir.path()).unwrap();
    let text = format!("{}Delete: 19621125173144\n", key.private_text());
    std::fs::write(&private_path, text).unwrap();
    let delete = SigningKey::read(&key_path)
        .unwrap()
        .timing()
        .delete
        .unwrap();
    assert_eq!(time::timestamp(delete), "20990101000000");
}

#[test]
fn ctime_as_c_writes_it() {
    assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
    assert_eq!(ctime(1_796_644_150), "Mon Dec  7 11:49:10 2026");
    assert_eq!(ctime(951_868_799), "Tue Feb 29 23:59:59 2000");
}

/// The DNSKEY line of a .key file, its base64 joined (BIND writes it in two pieces).
fn dnskey_line(key_file: &Path) -> String {
    let text = std::fs::read_to_string(key_file).unwrap();
    let line = text.lines().find(|l| !l.starts_with(';')).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    format!("{} {}", fields[..6].join(" "), fields[6..].concat())
}

/// Keys made by `dnssec-keygen` and timed by `dnssec-settime` are read as they are: tag, flags,
/// DNSKEY, DS (`dnssec-dsfromkey`) and times agree.
#[test]
fn keys_bind_makes_are_read() {
    let (Some(keygen), Some(settime), Some(dsfromkey)) = (
        tool("dnssec-keygen"),
        tool("dnssec-settime"),
        tool("dnssec-dsfromkey"),
    ) else {
        return;
    };
    let dir = Scratch::new("key-bind-made");
    let dir_text = path_str(dir.path());
    for (algorithm, role) in [
        ("ECDSAP256SHA256", &["-f", "KSK"][..]),
        ("ED25519", &["-f", "KSK"][..]),
        ("ECDSAP256SHA256", &[][..]),
        ("ED25519", &[][..]),
    ] {
        let mut args = vec!["-q", "-a", algorithm, "-K", dir_text];
        args.extend_from_slice(role);
        args.push("example.com");
        let stem = run(&keygen, &args).trim().to_string();
        let key_path = dir.join(&format!("{stem}.key"));
        let key = SigningKey::read(&key_path).unwrap();
        assert_eq!(key.file_stem(), stem);
        assert_eq!(
            key.tag(),
            stem.rsplit('+').next().unwrap().parse::<u16>().unwrap()
        );
        assert_eq!(key.flags(), if role.is_empty() { 256 } else { 257 });
        assert_eq!(key.algorithm(), Algorithm::parse(algorithm).unwrap());
        assert_eq!(
            dnskey_line(&key_path),
            key.dnskey_text(0).replace(" 0 IN ", " IN ")
        );
        let created = key.timing().created.unwrap();
        assert_eq!(key.timing().publish, Some(created));
        assert_eq!(key.timing().activate, Some(created));
        for (flag, digest) in [
            ("SHA-256", DigestType::Sha256),
            ("SHA-384", DigestType::Sha384),
        ] {
            let theirs = run(&dsfromkey, &["-a", flag, path_str(&key_path)]);
            assert_eq!(theirs.trim(), key.ds_text(digest), "{stem} {flag}");
        }
        let data = b"data";
        assert!(verifies(&key, data, &key.sign(data)));

        run(
            &settime,
            &[
                "-K",
                dir_text,
                "-P",
                "20300101000000",
                "-A",
                "20300102000000",
                "-I",
                "20300103000000",
                "-D",
                "20300104000000",
                "-P",
                "sync",
                "20300105000000",
                "-D",
                "sync",
                "20300106000000",
                &stem,
            ],
        );
        let timing = SigningKey::read(&key_path).unwrap().timing().clone();
        assert_eq!(
            timing,
            Timing {
                created: Some(created),
                publish: time::parse_timestamp(b"20300101000000"),
                activate: time::parse_timestamp(b"20300102000000"),
                inactive: time::parse_timestamp(b"20300103000000"),
                delete: time::parse_timestamp(b"20300104000000"),
                sync_publish: time::parse_timestamp(b"20300105000000"),
                sync_delete: time::parse_timestamp(b"20300106000000"),
            }
        );
        run(
            &settime,
            &["-K", dir_text, "-I", "none", "-D", "none", &stem],
        );
        let timing = SigningKey::read(&key_path).unwrap().timing().clone();
        assert_eq!((timing.inactive, timing.delete), (None, None));
    }
    let keys = read_dir(dir.path(), &name("example.com.")).unwrap();
    assert_eq!(keys.len(), 4);
}

/// `dnssec-settime -up all`'s times: tag to Unix seconds, `None` for UNSET.
fn bind_times(settime: &Path, dir: &Path, stem: &str) -> Timing {
    let output = run(settime, &["-u", "-p", "all", "-K", path_str(dir), stem]);
    let mut timing = Timing::default();
    for line in output.lines() {
        let (tag, value) = line.split_once(':').unwrap();
        let value = value.trim();
        let at = (value != "UNSET").then(|| value.parse::<u64>().unwrap());
        let slot = match tag {
            "Created" => &mut timing.created,
            "Publish" => &mut timing.publish,
            "Activate" => &mut timing.activate,
            "Inactive" => &mut timing.inactive,
            "Delete" => &mut timing.delete,
            "SYNC Publish" => &mut timing.sync_publish,
            "SYNC Delete" => &mut timing.sync_delete,
            _ => continue,
        };
        *slot = at;
    }
    timing
}

/// Keys splitdns writes are BIND's: `dnssec-dsfromkey` gives our DS, `dnssec-settime` reads
/// our times (and what it changes, we read).
#[test]
fn keys_splitdns_writes_are_read_by_bind() {
    let (Some(settime), Some(dsfromkey)) = (tool("dnssec-settime"), tool("dnssec-dsfromkey"))
    else {
        return;
    };
    let dir = Scratch::new("key-ours-read");
    for algorithm in Algorithm::ALL {
        for flags in [257, 256] {
            let mut key =
                SigningKey::generate(&name("Example.com."), algorithm, flags, 1_796_644_150)
                    .unwrap();
            let timing = Timing {
                created: Some(1_796_644_150),
                publish: Some(1_796_644_160),
                activate: Some(1_796_644_170),
                inactive: Some(1_897_000_000),
                delete: Some(1_898_000_000),
                sync_publish: Some(1_796_644_180),
                sync_delete: Some(1_896_000_000),
            };
            key.set_timing(timing.clone());
            let (key_path, _) = key.write(dir.path()).unwrap();
            let stem = key.file_stem();
            for (flag, digest) in [
                ("SHA-256", DigestType::Sha256),
                ("SHA-384", DigestType::Sha384),
            ] {
                let theirs = run(&dsfromkey, &["-a", flag, path_str(&key_path)]);
                assert_eq!(theirs.trim(), key.ds_text(digest), "{stem}");
            }
            assert_eq!(bind_times(&settime, dir.path(), &stem), timing, "{stem}");
            run(
                &settime,
                &[
                    "-K",
                    path_str(dir.path()),
                    "-I",
                    "20310101000000",
                    "-D",
                    "sync",
                    "none",
                    &stem,
                ],
            );
            let changed = SigningKey::read(&key_path).unwrap();
            assert_eq!(
                changed.timing().inactive,
                time::parse_timestamp(b"20310101000000")
            );
            assert_eq!(changed.timing().sync_delete, None);
            assert_eq!(changed.dnskey_rdata(), key.dnskey_rdata());
        }
    }
}

/// A small zone, as `dnssec-signzone` and our signer take it.
pub(crate) const ZONE: &[(&str, u16, &str)] = &[
    (
        "example.com.",
        rtype::SOA,
        "ns.example.com. admin.example.com. 1 7200 3600 1209600 300",
    ),
    ("example.com.", rtype::NS, "ns.example.com."),
    ("example.com.", rtype::A, "192.0.2.1"),
    ("ns.example.com.", rtype::A, "192.0.2.2"),
    ("www.example.com.", rtype::A, "192.0.2.3"),
    ("www.example.com.", rtype::A, "192.0.2.4"),
];

pub(crate) fn type_name(rtype: u16) -> &'static str {
    match rtype {
        rtype::SOA => "SOA",
        rtype::NS => "NS",
        rtype::A => "A",
        rtype::NSEC => "NSEC",
        rtype::DNSKEY => "DNSKEY",
        rtype::RRSIG => "RRSIG",
        _ => unreachable!(),
    }
}

/// BIND signs a zone with keys splitdns made (`dnssec-signzone -S` finds them by their file
/// names and reads the private keys), and `dnssec-verify` accepts the result.
#[test]
fn bind_signs_with_keys_splitdns_writes() {
    let (Some(signzone), Some(verify)) = (tool("dnssec-signzone"), tool("dnssec-verify")) else {
        return;
    };
    let dir = Scratch::new("key-bind-signs");
    let start = now() - 60;
    for (index, (algorithm, flags)) in [
        (Algorithm::EcdsaP256Sha256, &[257, 256][..]),
        (Algorithm::Ed25519, &[257][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let keys = dir.join(&format!("keys{index}"));
        std::fs::create_dir_all(&keys).unwrap();
        for &flags in flags {
            SigningKey::generate(&name("example.com."), algorithm, flags, start)
                .unwrap()
                .write(&keys)
                .unwrap();
        }
        let mut zone = String::new();
        for (owner, rtype, rdata) in ZONE {
            let _ = writeln!(zone, "{owner} 3600 IN {} {rdata}", type_name(*rtype));
        }
        let file = dir.write(&format!("zone{index}"), &zone);
        let signed = dir.join(&format!("zone{index}.signed"));
        // As splitdns signs: with one key, a CSK (`-z`; BIND's tools otherwise want a key
        // without the SEP bit too), with two, the KSK alone signs the DNSKEY set (`-x`).
        let roles = if flags.len() == 1 { "-z" } else { "-x" };
        run(
            &signzone,
            &[
                "-S",
                roles,
                "-K",
                path_str(&keys),
                "-d",
                path_str(&keys),
                "-o",
                "example.com.",
                "-f",
                path_str(&signed),
                path_str(&file),
            ],
        );
        let text = std::fs::read_to_string(&signed).unwrap();
        assert!(text.contains("RRSIG"), "{text}");
        run(&verify, &[roles, "-o", "example.com.", path_str(&signed)]);
    }
}
