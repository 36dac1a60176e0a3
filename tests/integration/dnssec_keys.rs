//! `splitdns dnssec ds` and `splitdns dnssec status` over real key files: keys that BIND's
//! `dnssec-keygen` made and `dnssec-settime` timed, and keys that `splitdns serve` made for a
//! zone it signs (kept across restarts, and the ones it serves). DS lines are checked against
//! `dnssec-dsfromkey`'s. A test whose BIND tool is not installed says so and passes, or skips
//! only that comparison.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::common::{Daemon, EXTERNAL, Via, ask, find_program, scratch_dir, splitdns};

fn say(line: &str) {
    eprintln!("dnssec_keys: {line}");
}

/// A BIND tool, or `None` after saying the test skips what needs it.
fn bind_tool(program: &str) -> Option<PathBuf> {
    let found = find_program(program);
    if found.is_none() {
        say(&format!(
            "skipped: {program} not found (apt-get install bind9-utils)"
        ));
    }
    found
}

/// Runs a BIND tool that must succeed; its standard output.
fn run_tool(program: &Path, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `splitdns dnssec ARGS --config CONFIG`: whether it succeeded, stdout, stderr.
fn dnssec(config: &Path, args: &[&str]) -> (bool, String, String) {
    let output = splitdns()
        .arg("dnssec")
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A config in `dir` serving `zones` (origin, `dnssec` value or none) to everyone, keys in
/// `dir/state/keys`, each zone with a small zone file.
fn write_config(dir: &Path, zones: &[(&str, Option<&str>)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("state/keys")).unwrap();
    let mut config = String::from(
        "listen = [\"127.0.0.1:5353\"]\nstate_dir = \"state\"\n\n[[view]]\nname = \"external\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\n[[dnssec_policy]]\nname = \"split\"\nkeys = \"ksk+zsk\"\nalgorithm = \"ed25519\"\n",
    );
    for (origin, signed) in zones {
        config.push_str(&format!(
            "\n[[zone]]\norigin = \"{origin}\"\nfile = \"{origin}.zone\"\n"
        ));
        if let Some(signed) = signed {
            config.push_str(&format!("dnssec = {signed}\n"));
        }
        std::fs::write(
            dir.join(format!("{origin}.zone")),
            format!(
                "$ORIGIN {origin}.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.2\n"
            ),
        )
        .unwrap();
    }
    let path = dir.join("splitdns.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The DNSKEY line of a .key file with its base64 joined (BIND writes it in two pieces) and
/// `ttl` put in.
fn dnskey_line(key_file: &Path, ttl: u32) -> String {
    let text = std::fs::read_to_string(key_file).unwrap();
    let line = text.lines().find(|l| !l.starts_with(';')).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    format!(
        "{} {ttl} {} {}",
        fields[0],
        fields[1..6].join(" "),
        fields[6..].concat()
    )
}

/// The line of `status` output about the key with `tag`.
fn key_line(status: &str, tag: &str) -> String {
    let needle = format!(" {tag}  flags");
    status
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no line for key {tag} in:\n{status}"))
        .to_string()
}

#[test]
fn ds_and_status_of_keys_bind_made() {
    let (Some(keygen), Some(settime), Some(dsfromkey)) = (
        bind_tool("dnssec-keygen"),
        bind_tool("dnssec-settime"),
        bind_tool("dnssec-dsfromkey"),
    ) else {
        return;
    };
    let dir = scratch_dir("dnssec_keys_bind_made");
    let config = write_config(
        &dir,
        &[
            ("example.com", Some("true")),
            ("example.org", Some("\"split\"")),
            ("example.net", Some("true")),
            ("plain.example", None),
        ],
    );
    let keys = dir.join("state/keys");
    let keys_text = keys.to_str().unwrap();
    let keygen = |zone: &str, args: &[&str]| {
        let mut all = vec!["-q", "-K", keys_text];
        all.extend_from_slice(args);
        all.push(zone);
        run_tool(&keygen, &all).trim().to_string()
    };
    let tag = |stem: &str| {
        stem.rsplit('+')
            .next()
            .unwrap()
            .trim_start_matches('0')
            .to_string()
    };
    let past = "20200101000000";
    let csk = keygen(
        "example.com",
        &["-a", "ECDSAP256SHA256", "-f", "KSK", "-P", past, "-A", past],
    );
    let ksk = keygen(
        "example.org",
        &["-a", "ED25519", "-f", "KSK", "-P", past, "-A", past],
    );
    run_tool(&settime, &["-K", keys_text, "-P", "sync", past, &ksk]);
    let active = keygen("example.org", &["-a", "ED25519", "-P", past, "-A", past]);
    let retired = keygen(
        "example.org",
        &[
            "-a",
            "ED25519",
            "-P",
            past,
            "-A",
            past,
            "-I",
            "20200102000000",
            "-D",
            "20990101000000",
        ],
    );
    let published = keygen(
        "example.org",
        &["-a", "ED25519", "-P", past, "-A", "20990102000000"],
    );
    let pending = keygen(
        "example.org",
        &[
            "-a",
            "ED25519",
            "-P",
            "20990103000000",
            "-A",
            "20990104000000",
        ],
    );
    let removed = keygen(
        "example.org",
        &[
            "-a",
            "ED25519",
            "-P",
            past,
            "-A",
            past,
            "-I",
            "20200102000000",
            "-D",
            "20200103000000",
        ],
    );

    // ds: the KSK's (or CSK's) DS, as dnssec-dsfromkey gives it; with --dnskey its DNSKEY too.
    let key_file = |stem: &str| keys.join(format!("{stem}.key"));
    let (ok, out, err) = dnssec(&config, &["ds", "example.com"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        run_tool(&dsfromkey, &["-2", key_file(&csk).to_str().unwrap()])
    );
    let (ok, out, err) = dnssec(&config, &["ds", "Example.COM.", "--dnskey"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[1], dnskey_line(&key_file(&csk), 3600));
    let (ok, out, err) = dnssec(&config, &["ds", "example.org", "--digest", "sha384"]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        run_tool(
            &dsfromkey,
            &["-a", "SHA-384", key_file(&ksk).to_str().unwrap()]
        )
    );

    // status: every key with its role and state, what comes next, and which has its CDS out.
    let (ok, status, err) = dnssec(&config, &["status"]);
    assert!(ok, "{err}\n{status}");
    assert!(
        status.contains("example.com.  policy \"default\": ECDSAP256SHA256, CSK, NSEC"),
        "{status}"
    );
    assert!(
        status.contains("example.org.  policy \"split\": ED25519, KSK+ZSK, NSEC"),
        "{status}"
    );
    assert!(!status.contains("plain.example"), "{status}");
    for (stem, role, state, cds, next) in [
        (&csk, "CSK", "active", false, "next: none"),
        (&ksk, "KSK", "active", true, "next: none"),
        (&active, "ZSK", "active", false, "next: none"),
        (
            &retired,
            "ZSK",
            "retired",
            false,
            "next: Delete 2099-01-01 00:00:00 UTC",
        ),
        (
            &published,
            "ZSK",
            "published",
            false,
            "next: Activate 2099-01-02 00:00:00 UTC",
        ),
        (
            &pending,
            "ZSK",
            "pending",
            false,
            "next: Publish 2099-01-03 00:00:00 UTC",
        ),
        (&removed, "ZSK", "removed", false, "next: none"),
    ] {
        let line = key_line(&status, &tag(stem));
        assert!(line.trim_start().starts_with(role), "{stem}: {line}");
        assert!(line.contains(&format!("  {state} ")), "{stem}: {line}");
        assert_eq!(line.contains("CDS published"), cds, "{stem}: {line}");
        assert!(line.ends_with(next), "{stem}: {line}");
    }
    let net = status
        .lines()
        .skip_while(|l| !l.starts_with("example.net."))
        .nth(1)
        .unwrap();
    assert!(
        net.contains("no keys in") && net.contains("yet"),
        "{status}"
    );

    // What cannot be printed says why, and exits 1.
    for (zone, why) in [
        ("plain.example", "plain.example. is not signed"),
        ("example.net", "example.net.: no keys in"),
        ("nope.example", "nope.example. is not a zone of"),
    ] {
        let (ok, out, err) = dnssec(&config, &["ds", zone]);
        assert!(!ok && out.is_empty() && err.contains(why), "{zone}: {err}");
    }

    // A key BIND made with an algorithm splitdns does not sign with, and a damaged key file:
    // both named, with their line, by ds and by status (which exits 1).
    let rsa = keygen("example.com", &["-a", "RSASHA256", "-b", "2048"]);
    std::fs::write(
        keys.join("Kexample.com.+013+00001.key"),
        "; damaged\nexample.com. IN DNSKEY 257 3 13 !!\n",
    )
    .unwrap();
    let rsa_line = std::fs::read_to_string(key_file(&rsa))
        .unwrap()
        .lines()
        .position(|l| !l.starts_with(';'))
        .unwrap()
        + 1;
    let (ok, _, err) = dnssec(&config, &["ds", "example.com"]);
    assert!(!ok, "{err}");
    assert!(
        err.contains(&format!(
            "{}:{rsa_line}: algorithm 8 (RSASHA256) is not one splitdns signs with",
            key_file(&rsa).display()
        )),
        "{err}"
    );
    assert!(
        err.contains("Kexample.com.+013+00001.key:2: the public key is not base64"),
        "{err}"
    );
    let (ok, status, _) = dnssec(&config, &["status"]);
    assert!(!ok);
    assert!(
        status.contains("Kexample.com.+013+00001.key:2:"),
        "{status}"
    );
    assert!(
        status.contains("example.org.  policy"),
        "the other zones are still shown: {status}"
    );
}

/// The keys `serve` makes for a zone it signs are BIND's files in `state_dir/keys`, kept across
/// restarts; `dnssec ds` prints the DS of the key the server publishes (its DNSKEY and CDS).
#[test]
fn keys_serve_makes_are_kept_and_printed() {
    let dir = scratch_dir("dnssec_keys_serve_made");
    let config = write_config(&dir, &[("contoso.example", Some("true"))]);
    let keys = dir.join("state/keys");
    let files = || {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&keys)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };

    let daemon = Daemon::serve(&config).start();
    let made = files();
    let names: Vec<&str> = made.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.len(), 2, "one CSK: {names:?}");
    assert!(
        names[0].starts_with("Kcontoso.example.+013+") && names[0].ends_with(".key"),
        "{names:?}"
    );
    assert_eq!(names[1], names[0].replace(".key", ".private"));
    let mode = std::fs::metadata(keys.join(names[1]))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let (ok, ds, err) = dnssec(&config, &["ds", "contoso.example", "--dnskey"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = ds.lines().collect();
    assert_eq!(lines.len(), 2, "{ds}");
    assert!(lines[0].starts_with("contoso.example. IN DS "), "{ds}");
    if let Some(dsfromkey) = bind_tool("dnssec-dsfromkey") {
        let theirs = run_tool(&dsfromkey, &["-2", keys.join(names[0]).to_str().unwrap()]);
        assert_eq!(theirs.trim(), lines[0]);
    }
    // What the server publishes is this key.
    let public_key = lines[1].rsplit(' ').next().unwrap();
    let served = ask(
        &daemon.server(),
        EXTERNAL,
        Via::Udp,
        "contoso.example.",
        RecordType::DNSKEY,
    );
    assert!(
        served
            .answer()
            .iter()
            .any(|r| r.replace(' ', "").contains(public_key)),
        "served {:?}, expected the key {public_key}",
        served.answer()
    );
    let digest = lines[0].rsplit(' ').next().unwrap().to_ascii_lowercase();
    let cds = ask(
        &daemon.server(),
        EXTERNAL,
        Via::Udp,
        "contoso.example.",
        RecordType::CDS,
    );
    assert!(
        cds.answer()
            .iter()
            .any(|r| r.to_ascii_lowercase().replace(' ', "").contains(&digest)),
        "served {:?}, expected the digest {digest}",
        cds.answer()
    );
    let (ok, status, err) = dnssec(&config, &["status"]);
    assert!(ok, "{err}");
    let tag = lines[0].split(' ').nth(3).unwrap();
    let line = key_line(&status, tag);
    assert!(
        line.contains("CSK") && line.contains("  active ") && line.contains("CDS published"),
        "{status}"
    );
    drop(daemon);

    // A restart uses the same key: the files are untouched, the DS unchanged.
    let daemon = Daemon::serve(&config).start();
    assert_eq!(files(), made, "the keys changed across a restart");
    let (ok, again, err) = dnssec(&config, &["ds", "contoso.example", "--dnskey"]);
    assert!(ok, "{err}");
    assert_eq!(again, ds);
    drop(daemon);
}
