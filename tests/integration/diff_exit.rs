//! `splitdns diff` through the binary: its exit status is diff(1)'s — 0 when
//! the two views serve the same data, 1 when they differ, 2 when it could not compare (an
//! unknown view, a config that does not load) — so scripts can act on it.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::scratch_dir;

fn example_config() -> PathBuf {
    crate::common::example_config()
}

fn diff(config: &Path, a: &str, b: &str) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = crate::common::splitdns()
        .args(["diff", "--config"])
        .arg(config)
        .args([a, b])
        .output()
        .expect("run splitdns diff");
    (
        status.code().expect("exit code"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn diff_exits_1_when_the_views_differ_and_0_when_they_do_not() {
    let config = example_config();
    let (code, out, err) = diff(&config, "internal", "external");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("name(s) differ"), "{out}");

    let (code, out, err) = diff(&config, "external", "external");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("serve identical data"), "{out}");
}

#[test]
fn diff_of_an_unknown_view_exits_2_naming_it_and_the_defined_ones() {
    let (code, out, err) = diff(&example_config(), "internal", "dmz");
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        err.trim_end(),
        "unknown view \"dmz\": the config defines internal, external"
    );

    let (code, _, err) = diff(&example_config(), "inside", "outside");
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        "unknown views \"inside\" and \"outside\": the config defines internal, external"
    );
}

#[test]
fn diff_exits_2_when_the_config_does_not_load() {
    let dir = scratch_dir("diff_exit/bad_config");
    let config = dir.join("splitdns.toml");
    std::fs::write(&config, "[[view]]\nname = \"internal\"\nclientz = []\n").unwrap();
    let (code, out, err) = diff(&config, "internal", "external");
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("unknown field `clientz`"), "{err}");

    let (code, _, err) = diff(&dir.join("missing.toml"), "internal", "external");
    assert_eq!(code, 2, "{err}");
}
