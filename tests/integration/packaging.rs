//! Packaging: the man pages and shell completions are generated from the real CLI
//! definition by the real binary, render without warnings and parse; the Debian package's
//! metadata names files that exist and installs nothing that starts by itself.

use std::path::Path;
use std::process::Command;

use crate::common::scratch_dir;

const SUBCOMMANDS: [&str; 6] = ["serve", "check", "explain", "diff", "status", "reload"];

#[test]
fn man_pages_and_completions_come_from_the_cli() {
    let dir = scratch_dir("packaging-docs");
    let output = crate::common::splitdns()
        .arg("generate-docs")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let page = std::fs::read_to_string(dir.join("splitdns.8")).unwrap();
    assert!(page.contains(".TH splitdns 8 "), "not section 8");
    for sub in SUBCOMMANDS {
        // Listed, with its own page, and shown in an example.
        assert!(
            page.contains(&format!("splitdns\\-{sub}(8)")),
            "{sub} not listed"
        );
        assert!(
            dir.join(format!("splitdns-{sub}.8")).is_file(),
            "no page for {sub}"
        );
        assert!(
            page.contains(&format!("\\fBsplitdns {sub} \\-\\-")),
            "no example of {sub}"
        );
    }
    assert!(
        !page.contains("generate"),
        "the hidden subcommand leaked into the man page"
    );
    if Command::new("groff").arg("--version").output().is_ok() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "8") {
                let groff = Command::new("groff")
                    .args(["-man", "-ww", "-z"])
                    .arg(&path)
                    .output()
                    .unwrap();
                assert!(
                    groff.status.success() && groff.stderr.is_empty(),
                    "{}: {}",
                    path.display(),
                    String::from_utf8_lossy(&groff.stderr)
                );
            }
        }
    } else {
        println!("groff not installed: man page rendering not checked");
    }
    let bash = std::fs::read_to_string(dir.join("splitdns.bash")).unwrap();
    for sub in SUBCOMMANDS {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(dir.join("splitdns.bash"))
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");
    assert!(dir.join("_splitdns").is_file() && dir.join("splitdns.fish").is_file());
}

#[test]
fn the_debian_package_metadata_is_complete() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let deb = manifest["package"]["metadata"]["deb"].as_table().unwrap();
    let assets = deb["assets"].as_array().unwrap();
    let mut destinations = Vec::new();
    let mut sources = Vec::new();
    for asset in assets {
        let source = asset[0].as_str().unwrap();
        sources.push(source.to_string());
        destinations.push(asset[1].as_str().unwrap().to_string());
        // Built or generated at packaging time; everything else is in the repository.
        if !source.starts_with("target/") && !source.starts_with("packaging/generated/") {
            assert!(root.join(source).is_file(), "asset {source} does not exist");
        }
    }
    for needed in [
        "usr/bin/",
        "etc/splitdns/",
        "usr/share/man/man8/",
        "usr/share/bash-completion/completions/splitdns",
    ] {
        assert!(
            destinations.iter().any(|d| d == needed),
            "nothing installed to {needed}"
        );
    }
    // The admin guide ships whole: a page (or picture) added to docs/ must be added to the assets
    // too.
    for page in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = page.unwrap().path();
        if path.extension().is_some_and(|e| e == "md" || e == "png") {
            let source = format!("docs/{}", path.file_name().unwrap().to_string_lossy());
            assert!(
                sources.contains(&source),
                "{source} is not in the package's assets"
            );
        }
    }
    let units = deb["systemd-units"].as_table().unwrap();
    assert_eq!(units["enable"].as_bool(), Some(false), "enabled on install");
    assert_eq!(units["start"].as_bool(), Some(false), "started on install");
    let scripts = root.join(deb["maintainer-scripts"].as_str().unwrap());
    let postinst = std::fs::read_to_string(scripts.join("postinst")).unwrap();
    assert!(postinst.contains("useradd --system") && postinst.contains("#DEBHELPER#"));
    let syntax = Command::new("sh")
        .arg("-n")
        .arg(scripts.join("postinst"))
        .output()
        .unwrap();
    assert!(syntax.status.success(), "{syntax:?}");
}

/// `packaging/build-deb` without cargo-deb stops before building anything and says how to get it
/// instead of failing at the end of a release build. `cargo` is a stand-in that has
/// no `deb` subcommand and notes every other call.
#[test]
fn build_deb_without_cargo_deb_says_how_to_get_it() {
    use std::os::unix::fs::PermissionsExt;

    let dir = scratch_dir("packaging-no-cargo-deb");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = dir.join("calls");
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nif [ \"$1\" = deb ]; then echo \"error: no such command: \\`deb\\`\" >&2; exit 101; fi\nexit 0\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Only the stand-in and the system's tools: no cargo-deb anywhere on PATH.
    let output = Command::new("bash")
        .arg(root.join("packaging/build-deb"))
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("cargo install cargo-deb"), "{stderr}");
    let called = std::fs::read_to_string(&calls).unwrap_or_default();
    assert!(
        !called.lines().any(|line| line.starts_with("build")),
        "built before checking for cargo-deb: {called}"
    );
}
