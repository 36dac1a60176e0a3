//! `splitdns secondary-config` names only keys it defines: every config it prints, for
//! BIND, Knot and NSD and for each view of `tests/fixtures/transfer`, defines each TSIG key it
//! refers to, carries no other view's secret, and is accepted by the secondary's own checker
//! (`named-checkconf`, `knotc conf-check`, `nsd-checkconf`) when that is installed. One BIND
//! server mirroring several views gets one config naming them all, each key defined once.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{find_program, fixture, scratch_dir, splitdns};

const PRIMARY: &str = "127.0.0.1:5300";

fn say(line: &str) {
    eprintln!("secondary_keys: {line}");
}

/// `splitdns secondary-config` with `--view` once per view; stdout, or stderr as the error.
fn secondary_config(views: &[&str], software: &str) -> Result<String, String> {
    let config = fixture("transfer");
    let mut command = splitdns();
    command.arg("secondary-config").arg("--config").arg(config);
    for view in views {
        command.arg("--view").arg(view);
    }
    let output = command
        .args(["--for", software, "--primary", PRIMARY])
        .output()
        .expect("run splitdns secondary-config");
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The first `"`-quoted word of `text`.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// The keys a config defines and the keys it refers to, read as its software reads them.
fn keys(software: &str, text: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut defined = Vec::new();
    let mut named = BTreeSet::new();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim();
        match software {
            // `key "k" {` defines; `key "k"` (in match-clients, primaries) and
            // `keys { "k"; }` (server) refer.
            "bind" => {
                if line.starts_with("key \"") && line.ends_with('{') {
                    defined.push(quoted(line).unwrap().to_string());
                    continue;
                }
                for (at, _) in line.match_indices("key \"") {
                    named.insert(quoted(&line[at..]).unwrap().to_string());
                }
                if let Some(at) = line.find("keys {") {
                    named.insert(quoted(&line[at..]).unwrap().to_string());
                }
            }
            // `- id: k` under `key:` defines; `key: k` (remote, acl) refers.
            "knot" => {
                if let Some(id) = line.strip_prefix("- id: ")
                    && lines[..i].iter().rev().find(|l| !l.starts_with(' ')) == Some(&"key:")
                {
                    defined.push(id.to_string());
                } else if let Some(key) = line.strip_prefix("key: ") {
                    named.insert(key.to_string());
                }
            }
            // `name: "k"` under `key:` defines; the word after the address of `request-xfr`
            // and `allow-notify` refers (NOKEY is none).
            "nsd" => {
                if line.starts_with("name: ")
                    && lines[..i].iter().rev().find(|l| !l.starts_with(' ')) == Some(&"key:")
                {
                    defined.push(quoted(line).unwrap().to_string());
                } else if line.starts_with("request-xfr:") || line.starts_with("allow-notify:") {
                    let key = line.split_whitespace().nth(2).unwrap();
                    if key != "NOKEY" {
                        named.insert(key.to_string());
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    (defined, named)
}

/// Each view's secret in the fixture: a config for one view must carry only its own.
const SECRETS: [(&str, &str); 2] = [
    ("internal", "4O4ZDNVr4e383EU+j9Zus55K9fcRPRXP0K7mY2H1Yz0="),
    ("external", "komOIlnUCxXD+pMac31zYhq//pqsn0PROd/5xPxxAk8="),
];

/// Before: the internal view's BIND stanza said `!key "external-xfr"` in its `match-clients`
/// without defining that key (pasted alone, BIND loads it, and the element never matches).
#[test]
fn each_secondary_config_defines_every_key_it_names() {
    for software in ["bind", "knot", "nsd"] {
        for (view, secret) in SECRETS {
            let text = secondary_config(&[view], software)
                .unwrap_or_else(|e| panic!("{view} {software}: {e}"));
            let (defined, named) = keys(software, &text);
            assert_eq!(
                defined,
                [format!("{view}-xfr")],
                "{view} {software} defines:\n{text}"
            );
            let undefined: Vec<&String> = named.iter().filter(|k| !defined.contains(k)).collect();
            assert!(
                undefined.is_empty(),
                "{view} {software} names {undefined:?} without defining it:\n{text}"
            );
            assert!(text.contains(secret), "{text}");
            for (other, other_secret) in SECRETS.iter().filter(|(v, _)| *v != view) {
                assert!(
                    !text.contains(other_secret),
                    "{view} {software} carries view {other}'s secret:\n{text}"
                );
            }
        }
    }
}

/// One BIND server mirroring both views: one config from `--view external --view internal`,
/// each key defined once, each view's `match-clients` leaving out requests signed with the other
/// view's key (so that a NOTIFY lands in its own view whatever the order). Knot and NSD have no
/// views: asking them for two is an error that says so.
#[test]
fn one_bind_config_for_several_views_defines_each_key_once() {
    let text =
        secondary_config(&["external", "internal"], "bind").unwrap_or_else(|e| panic!("{e}"));
    let (defined, named) = keys("bind", &text);
    assert_eq!(defined, ["external-xfr", "internal-xfr"], "{text}");
    assert_eq!(
        named,
        BTreeSet::from(["external-xfr".to_string(), "internal-xfr".to_string()]),
        "{text}"
    );
    for (view, other) in [("external", "internal"), ("internal", "external")] {
        let stanza = &text[text.find(&format!("view \"{view}\" {{")).unwrap()..];
        let matches = stanza.lines().nth(1).unwrap();
        assert!(
            matches.starts_with(&format!(
                "\tmatch-clients {{ key \"{view}-xfr\"; !key \"{other}-xfr\"; "
            )),
            "{text}"
        );
    }
    for software in ["knot", "nsd"] {
        let error = secondary_config(&["external", "internal"], software).unwrap_err();
        assert!(error.contains("one view"), "{software}: {error}");
    }
}

/// The secondaries' own checkers accept each config as printed: BIND's for each view alone and
/// for both together, Knot's and NSD's for each view. A checker that is not installed is skipped
/// with the reason printed.
#[test]
fn the_secondaries_own_checkers_accept_each_config() {
    let dir = scratch_dir("secondary_keys");
    let checkers: [(&str, &str, &[&str]); 3] = [
        ("bind", "named-checkconf", &[]),
        ("knot", "knotc", &["conf-check"]),
        ("nsd", "nsd-checkconf", &[]),
    ];
    for (software, checker, args) in checkers {
        let Some(program) = find_program(checker) else {
            say(&format!(
                "skipped {software}: {checker} not found (apt-get install bind9 knot nsd)"
            ));
            continue;
        };
        let mut sets: Vec<Vec<&str>> = vec![vec!["internal"], vec!["external"]];
        if software == "bind" {
            sets.push(vec!["external", "internal"]);
        }
        for views in sets {
            let text = secondary_config(&views, software).unwrap_or_else(|e| panic!("{e}"));
            let file = dir.join(format!("{software}-{}.conf", views.join("-")));
            std::fs::write(&file, &text).unwrap();
            let mut command = Command::new(&program);
            if software == "knot" {
                command.arg("--config").arg(&file).args(args);
            } else {
                command.args(args).arg(&file);
            }
            let output = command.output().expect("run the checker");
            assert!(
                output.status.success(),
                "{checker} rejects {views:?}: {}{}\n{text}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
