//! Zone files read from disk: `$INCLUDE` nesting, its errors, loops and depth limit, an
//! unreadable file, and bytes that are not UTF-8.

use super::*;
use crate::scratch::Scratch;

#[test]
fn include_nests_relative_to_the_including_file_and_restores_the_origin() {
    let dir = Scratch::new("zone-include");
    let main = dir.write(
        "main.zone",
        "$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n$INCLUDE sub/hosts.zone\n\
         $INCLUDE \"sub/hosts.zone\" lab\nafter A 192.0.2.9\n",
    );
    dir.write(
        "sub/hosts.zone",
        "; hosts\nhost A 192.0.2.1\n$INCLUDE deeper.zone\n",
    );
    dir.write("sub/deeper.zone", "$ORIGIN deep\nbottom TXT \"x\"\n");
    let parsed = load_zone_file(&main, &n("contoso.example.")).unwrap();
    let got: Vec<(String, String, u32)> = parsed
        .records
        .iter()
        .map(|r| {
            let file = r
                .loc
                .file
                .strip_prefix(dir.path())
                .unwrap()
                .display()
                .to_string();
            (r.owner.to_string(), file, r.loc.line)
        })
        .collect();
    let expected = [
        ("contoso.example.", "main.zone", 2),
        ("host.contoso.example.", "sub/hosts.zone", 2),
        ("bottom.deep.contoso.example.", "sub/deeper.zone", 2),
        ("host.lab.contoso.example.", "sub/hosts.zone", 2),
        ("bottom.deep.lab.contoso.example.", "sub/deeper.zone", 2),
        ("after.contoso.example.", "main.zone", 5),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|&(o, f, l)| (o.to_string(), f.to_string(), l))
        .collect();
    assert_eq!(got, expected);
    let files: Vec<PathBuf> = parsed
        .files
        .iter()
        .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf())
        .collect();
    let expected_files = [
        "main.zone",
        "sub/hosts.zone",
        "sub/deeper.zone",
        "sub/hosts.zone",
        "sub/deeper.zone",
    ];
    assert_eq!(files, expected_files.map(PathBuf::from));
}

#[test]
fn include_errors_carry_the_included_file_and_loops_are_refused() {
    let dir = Scratch::new("zone-include-errors");
    let main = dir.write(
        "main.zone",
        "$TTL 300\n$INCLUDE bad.zone\n$INCLUDE loop.zone\n$INCLUDE\n",
    );
    dir.write("bad.zone", "\nx A 300.1.1.1\n");
    dir.write("loop.zone", "$INCLUDE loop.zone\n");
    let errs: Vec<String> = load_zone_file(&main, &n("contoso.example."))
        .unwrap_err()
        .iter()
        .map(|e| {
            format!(
                "{}:{}: {}",
                e.file.strip_prefix(dir.path()).unwrap().display(),
                e.line,
                e.message
            )
        })
        .collect();
    let looped = dir.join("loop.zone");
    assert_eq!(
        errs,
        vec![
            "bad.zone:2: bad IPv4 address \"300.1.1.1\" in A record".to_string(),
            format!(
                "loop.zone:1: $INCLUDE loop: {} is already being read",
                looped.display()
            ),
            "main.zone:4: $INCLUDE needs a file name".to_string(),
        ]
    );
}

#[test]
fn include_depth_is_limited() {
    let dir = Scratch::new("zone-include-depth");
    let main = dir.write("main.zone", "$TTL 1\n$INCLUDE 1.zone\n");
    for i in 1..=12 {
        dir.write(
            &format!("{i}.zone"),
            &format!("h{i} A 192.0.2.1\n$INCLUDE {}.zone\n", i + 1),
        );
    }
    let errs = load_zone_file(&main, &n("contoso.example.")).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].message, "$INCLUDE nested more than 10 deep");
    assert!(errs[0].file.ends_with("10.zone"));
}

#[test]
fn unreadable_zone_file_is_an_error_not_a_panic() {
    let errs =
        load_zone_file(Path::new("/nonexistent/x.zone"), &n("contoso.example.")).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0]
            .to_string()
            .starts_with("/nonexistent/x.zone: cannot read zone file: ")
    );
}

#[test]
fn non_utf8_bytes_are_kept() {
    let dir = Scratch::new("zone-latin1");
    let main = dir.write("main.zone", "");
    std::fs::write(&main, b"$TTL 1\nx TXT caf\xe9\n\xe9 A 192.0.2.1\n").unwrap();
    let parsed = load_zone_file(&main, &n("contoso.example.")).unwrap();
    assert_eq!(&*parsed.records[0].rdata, b"\x04caf\xe9");
    assert_eq!(parsed.records[1].owner.as_wire()[..2], [1, 0xe9]);
}
