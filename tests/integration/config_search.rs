//! Where the commands find the config without `--config`: `$SPLITDNS_CONFIG`, else
//! `zones/splitdns.toml` in the working directory (a checkout), else the installed
//! `/etc/splitdns/splitdns.toml` — run through the real binary from scratch working directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, Daemon, example_dir, scratch_copy, scratch_dir};

/// Where the package installs the config.
const SYSTEM_CONFIG: &str = "/etc/splitdns/splitdns.toml";

/// `splitdns <args>` run in `dir`, with `$SPLITDNS_CONFIG` as given (unset for `None`).
fn splitdns_in(dir: &Path, env: Option<&Path>, args: &[&str]) -> Output {
    let mut command: Command = common::splitdns();
    command.current_dir(dir).args(args);
    match env {
        Some(path) => command.env("SPLITDNS_CONFIG", path),
        None => command.env_remove("SPLITDNS_CONFIG"),
    };
    command.output().expect("run splitdns")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A working directory holding the bundled example as `zones/` (a checkout, as far as the
/// search is concerned).
fn checkout(name: &str) -> PathBuf {
    let dir = scratch_dir(name);
    let zones = scratch_copy(&format!("{name}-zones"), &example_dir());
    std::fs::rename(&zones, dir.join("zones")).expect("move the example into zones/");
    dir
}

/// A config of its own that loads but differs from the example: one view, one zone.
fn other_config(name: &str) -> PathBuf {
    let dir = scratch_copy(name, &example_dir());
    let config = dir.join("other.toml");
    std::fs::write(
        &config,
        "listen = [\"127.0.0.1:0\"]\n\n[[view]]\nname = \"only\"\nclients = [\"0.0.0.0/0\", \"::/0\"]\n\n\
         [[zone]]\norigin = \"contoso.example\"\nfile = \"contoso.example.zone\"\n",
    )
    .unwrap();
    config
}

#[test]
fn a_checkout_uses_its_zones_example() {
    let dir = checkout("config-search-checkout");
    let output = splitdns_in(&dir, None, &["check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("zones/splitdns.toml: loaded"),
        "{}",
        text(&output)
    );
}

#[test]
fn splitdns_config_names_the_config_from_any_directory_and_beats_the_checkout() {
    let config = other_config("config-search-env");
    let empty = scratch_dir("config-search-env-empty");
    let output = splitdns_in(&empty, Some(&config), &["check"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&format!("{}: loaded", config.display())),
        "{}",
        text(&output)
    );
    // In a checkout too: the variable is the admin's explicit choice.
    let dir = checkout("config-search-env-checkout");
    let output = splitdns_in(&dir, Some(&config), &["check"]);
    assert!(
        text(&output).contains(&format!("{}: loaded", config.display()))
            && text(&output).contains("view only"),
        "{}",
        text(&output)
    );
    // `--config` beats the variable.
    let output = splitdns_in(
        &dir,
        Some(&config),
        &["check", "--config", "zones/splitdns.toml"],
    );
    assert!(
        text(&output).contains("zones/splitdns.toml: loaded")
            && !text(&output).contains("view only"),
        "{}",
        text(&output)
    );
    // A variable naming a file that does not exist is reported as that file, not replaced by
    // the checkout's example.
    let missing = empty.join("missing.toml");
    let output = splitdns_in(&dir, Some(&missing), &["check"]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains(&missing.display().to_string()),
        "{}",
        text(&output)
    );
}

#[test]
fn status_and_reload_find_the_config_through_splitdns_config() {
    let dir = scratch_copy("config-search-control", &example_dir());
    let daemon = Daemon::serve(dir.join("splitdns.toml")).control().start();
    let empty = scratch_dir("config-search-control-cwd");
    let status = splitdns_in(&empty, Some(daemon.config()), &["status"]);
    assert!(status.status.success(), "{}", text(&status));
    assert!(text(&status).contains("view internal"), "{}", text(&status));
    let reload = splitdns_in(&empty, Some(daemon.config()), &["reload"]);
    assert!(reload.status.success(), "{}", text(&reload));
}

#[test]
fn without_any_config_every_place_looked_is_named() {
    let empty = scratch_dir("config-search-none");
    for args in [&["check"][..], &["status"], &["reload"], &["serve"]] {
        let output = splitdns_in(&empty, None, args);
        if Path::new(SYSTEM_CONFIG).is_file() {
            // An installed system: the installed config is the one used.
            assert!(
                text(&output).contains(SYSTEM_CONFIG),
                "{args:?}: {}",
                text(&output)
            );
            continue;
        }
        assert!(!output.status.success(), "{args:?}: {}", text(&output));
        let error = text(&output);
        for place in [
            "--config",
            "$SPLITDNS_CONFIG",
            "zones/splitdns.toml",
            &empty.display().to_string(),
            SYSTEM_CONFIG,
        ] {
            assert!(
                error.contains(place),
                "{args:?}: {place} not named: {error}"
            );
        }
    }
    // `status --control ADDR` reads no config: a missing one is not its error.
    let output = splitdns_in(&empty, None, &["status", "--control", "127.0.0.1:1"]);
    assert!(
        !text(&output).contains("no config file"),
        "{}",
        text(&output)
    );
}

#[test]
fn help_and_man_page_say_the_search_order() {
    let empty = scratch_dir("config-search-help");
    let help = text(&splitdns_in(&empty, None, &["check", "--help"]));
    for needle in ["SPLITDNS_CONFIG", "zones/splitdns.toml", SYSTEM_CONFIG] {
        assert!(help.contains(needle), "--help lacks {needle}: {help}");
    }
    let docs = empty.join("docs");
    let output = splitdns_in(&empty, None, &["generate-docs", docs.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output));
    let page = std::fs::read_to_string(docs.join("splitdns.8")).unwrap();
    assert!(
        page.contains(".SH ENVIRONMENT") && page.contains("SPLITDNS_CONFIG"),
        "{page}"
    );
}
