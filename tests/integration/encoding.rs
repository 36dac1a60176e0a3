//! Text encodings an admin's editor may save, through `splitdns check`: a
//! zone, included or config file saved by Notepad as "Unicode" (UTF-16, with either byte-order
//! mark or none) is one error naming the file and what to do, not a record error per line; a
//! UTF-8 byte-order mark is skipped.

use std::path::{Path, PathBuf};

use crate::common::scratch_dir;

const CONFIG: &str = r#"[[view]]
name = "internal"
clients = ["127.0.0.2/32"]

[[view]]
name = "external"
clients = ["0.0.0.0/0", "::/0"]

[[zone]]
origin = "contoso.example"
file = "contoso.example.zone"
"#;

const ZONE: &str = r#"$ORIGIN contoso.example.
$TTL 3600
@       SOA   ns1 hostmaster ( 1 3600 900 1209600 300 )
        NS    ns1
ns1     A     203.0.113.53
north   A     203.0.113.80
"#;

const MESSAGE: &str = "file is UTF-16 (Notepad's \"Unicode\"): save it as UTF-8";

/// The ways a file can be saved.
#[derive(Debug, Clone, Copy)]
enum Saved {
    Utf8,
    Utf8Bom,
    /// Notepad's "Unicode": little-endian with the mark FF FE.
    Utf16LeBom,
    /// Notepad's "Unicode big endian": FE FF.
    Utf16BeBom,
    /// Little-endian without a mark (other tools, or a mark cut off).
    Utf16LeBare,
}

fn encode(text: &str, saved: Saved) -> Vec<u8> {
    let units = text.encode_utf16();
    match saved {
        Saved::Utf8 => text.as_bytes().to_vec(),
        Saved::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Saved::Utf16LeBom => [0xFF, 0xFE]
            .into_iter()
            .chain(units.flat_map(u16::to_le_bytes))
            .collect(),
        Saved::Utf16BeBom => [0xFE, 0xFF]
            .into_iter()
            .chain(units.flat_map(u16::to_be_bytes))
            .collect(),
        Saved::Utf16LeBare => units.flat_map(u16::to_le_bytes).collect(),
    }
}

/// A directory with the config and the zone, each saved as given (plus extra files).
fn write_files(test: &str, config: Saved, zone: Saved, extra: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = scratch_dir(&format!("encoding/{test}"));
    std::fs::write(dir.join("splitdns.toml"), encode(CONFIG, config)).unwrap();
    std::fs::write(dir.join("contoso.example.zone"), encode(ZONE, zone)).unwrap();
    for (name, bytes) in extra {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    dir
}

/// `splitdns check` on the directory's config: exit code and the error lines (stderr without
/// the closing count).
fn check(dir: &Path) -> (i32, Vec<String>) {
    let output = crate::common::splitdns()
        .arg("check")
        .arg("--config")
        .arg(dir.join("splitdns.toml"))
        .output()
        .expect("run splitdns check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problems = stderr
        .lines()
        .filter(|line| !line.contains("error(s) in"))
        .map(str::to_string)
        .collect();
    (output.status.code().expect("exit code"), problems)
}

#[test]
fn utf16_zone_files_are_one_error_naming_the_encoding() {
    for saved in [Saved::Utf16LeBom, Saved::Utf16BeBom, Saved::Utf16LeBare] {
        let dir = write_files(&format!("zone-{saved:?}"), Saved::Utf8, saved, &[]);
        let (code, problems) = check(&dir);
        let zone = dir.join("contoso.example.zone");
        assert_eq!(code, 1, "zone saved as {saved:?}: {problems:?}");
        // The loader puts a zone file's whole-file errors at the config line naming the file
        // (`splitdns.toml:11: <zone>: ...`), where a missing file is fixed: either way, one line
        // naming the zone file and its encoding.
        assert!(
            problems.len() == 1 && problems[0].ends_with(&format!("{}: {MESSAGE}", zone.display())),
            "zone saved as {saved:?}: {problems:?}"
        );
    }
}

#[test]
fn utf16_included_file_is_one_error_at_that_file() {
    let zone = format!("{ZONE}$INCLUDE hosts.zone\n");
    let included = encode("south A 203.0.113.81\n", Saved::Utf16LeBom);
    let dir = write_files(
        "include",
        Saved::Utf8,
        Saved::Utf8,
        &[("hosts.zone", included)],
    );
    std::fs::write(dir.join("contoso.example.zone"), zone).unwrap();
    let (code, problems) = check(&dir);
    assert_eq!(code, 1, "{problems:?}");
    assert_eq!(
        problems,
        [format!("{}: {MESSAGE}", dir.join("hosts.zone").display())]
    );
}

#[test]
fn utf16_config_file_is_one_error_naming_the_encoding() {
    for saved in [Saved::Utf16LeBom, Saved::Utf16BeBom, Saved::Utf16LeBare] {
        let dir = write_files(&format!("config-{saved:?}"), saved, Saved::Utf8, &[]);
        let (code, problems) = check(&dir);
        assert_eq!(code, 1, "config saved as {saved:?}: {problems:?}");
        assert_eq!(
            problems,
            [format!(
                "{}: {MESSAGE}",
                dir.join("splitdns.toml").display()
            )],
            "config saved as {saved:?}"
        );
    }
}

#[test]
fn utf8_byte_order_marks_are_skipped() {
    let included = encode("south A 203.0.113.81\n", Saved::Utf8Bom);
    let dir = write_files("utf8-bom", Saved::Utf8Bom, Saved::Utf8Bom, &[]);
    let zone = [
        encode(ZONE, Saved::Utf8Bom),
        b"$INCLUDE hosts.zone\n".to_vec(),
    ]
    .concat();
    std::fs::write(dir.join("contoso.example.zone"), zone).unwrap();
    std::fs::write(dir.join("hosts.zone"), included).unwrap();
    let (code, problems) = check(&dir);
    assert_eq!((code, problems), (0, vec![]));
}
