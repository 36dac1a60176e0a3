//! The command line: `serve` (the default), `check`, `explain`, `diff`, `secondary-config`,
//! `tlsa`, `dnssec ds`, `dnssec status` and `dnssec ds-seen`, and `status` and `reload`, which
//! ask the running server. The man page and the shell completions are generated from this
//! definition (`splitdns generate-docs DIR`, hidden; packaging runs it).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

pub use crate::commands::check::Format;
pub use crate::commands::tlsa::Starttls;

/// Where the config is looked for when `--config` is not given, after [`CONFIG_ENV`]: the
/// bundled example, relative to the working directory, so that `cargo run --release` in a
/// checkout serves it ...
pub const CHECKOUT_CONFIG: &str = "zones/splitdns.toml";
/// ... and then where the package installs it, so that every command on an installed system
/// finds it from any directory.
pub const SYSTEM_CONFIG: &str = "/etc/splitdns/splitdns.toml";
/// The environment variable naming the config when `--config` is not given: for an install
/// elsewhere, and for scripts that run several commands against one config.
pub const CONFIG_ENV: &str = "SPLITDNS_CONFIG";

/// No `--config`, no [`CONFIG_ENV`], and neither file of the search exists.
#[derive(Debug, thiserror::Error)]
#[error(
    "no config file: no --config FILE given, ${CONFIG_ENV} not set, no {CHECKOUT_CONFIG} in the working directory ({}), no {SYSTEM_CONFIG}",
    .working_dir.display()
)]
pub struct ConfigNotFound {
    pub working_dir: PathBuf,
}

#[derive(Debug, Parser)]
#[command(
    name = "splitdns",
    version,
    about = "Split-horizon authoritative DNS for Exchange namespaces"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer queries (the default).
    Serve(ServeArgs),
    /// Load the config and every zone exactly as `serve` would, run the Exchange and split-view
    /// checks, and report; opens no socket.
    Check(CheckArgs),
    /// Show which view a client gets, the answer it would receive, and where each record came from.
    Explain(ExplainArgs),
    /// Show the records that differ between two views.
    ///
    /// Exit status as diff's: 0 when the views serve the same data, 1 when they differ, 2 when
    /// they cannot be compared (the config does not load, a view is not defined).
    Diff(DiffArgs),
    /// Ask the running server what it serves: views, zones, serials, health checks, the last
    /// reload. A monitoring check: one summary line first; exits 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN (the server cannot be asked).
    Status(StatusArgs),
    /// Ask the running server to reload; prints ok, partial or refused, and exits 1 with the
    /// file:line errors unless ok.
    Reload(ControlArgs),
    /// Write the man page splitdns(8) and shell completions (bash, zsh, fish) into DIR.
    #[command(hide = true)]
    GenerateDocs {
        /// The directory the files are written to (created if missing).
        dir: PathBuf,
    },
    /// Print the config a BIND, Knot or NSD secondary of one view needs: key, primary, zones.
    SecondaryConfig(SecondaryConfigArgs),
    /// Print the TLSA records (3 1 1, and 2 1 1 for the issuing CA) that match the certificate
    /// a server presents now, as zone file lines: what to publish for DANE.
    ///
    /// Connects to HOST:PORT (each address of a HOST that is a name) and takes any certificate:
    /// it reports what is presented, it does not judge it. Exit status 1 when an address could
    /// not be asked.
    Tlsa(TlsaArgs),
    /// The signed zones' keys, read from their BIND key files in state_dir/keys: the DS records
    /// for the registrar, and each key's state. Asks no server and makes no key.
    #[command(subcommand)]
    Dnssec(DnssecCommand),
}

#[derive(Debug, Subcommand)]
pub enum DnssecCommand {
    /// Print the DS records of a zone's published key-signing keys (its KSKs, or its CSK): what
    /// the parent zone's registrar is given.
    Ds(DsArgs),
    /// For every signed zone: its policy, and each key's role (KSK, ZSK, CSK), state (pending,
    /// published, active, retired, removed), whether its CDS is published, and its next timing
    /// event. Exits 1 when a zone's keys cannot be read.
    Status(DnssecStatusArgs),
    /// The parent now serves the DS of the key a KSK or CSK rollover rolled in: the key it
    /// replaces stops signing once the old DS has left every cache (parent_ds_ttl +
    /// parent_propagation_delay), then leaves the DNSKEY set. Asks the running server to reload
    /// when the config has a [control] listener.
    DsSeen(DsSeenArgs),
}

#[derive(Debug, Args)]
pub struct DsSeenArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The signed zone, e.g. contoso.example.
    #[arg(value_name = "ZONE")]
    pub zone: String,
}

#[derive(Debug, Args)]
pub struct DsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The signed zone, e.g. contoso.example.
    #[arg(value_name = "ZONE")]
    pub zone: String,
    /// Print each key's DNSKEY record after its DS (what some registrars take instead).
    #[arg(long)]
    pub dnskey: bool,
    /// The DS digest: sha256, what every registry takes, or sha384.
    #[arg(long, value_enum, default_value = "sha256")]
    pub digest: crate::commands::dnssec::Digest,
}

#[derive(Debug, Args)]
pub struct DnssecStatusArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

/// The EXAMPLES, FILES and SEE ALSO sections of the man page (roff).
const MAN_EXTRA: &str = r#".SH EXAMPLES
.TP
\fBsplitdns serve \-\-config /etc/splitdns/splitdns.toml\fR
Answer queries (what the systemd unit runs). \fBserve\fR is the default subcommand.
.TP
\fBsplitdns check \-\-config /etc/splitdns/splitdns.toml\fR
Load the config and every zone as \fBserve\fR would and run the checks; exit 1 with one
\fIfile:line: message\fR per problem. Add \fB\-\-strict\fR to fail on warnings too,
\fB\-\-format json\fR for tools.
.TP
\fBsplitdns explain \-\-config /etc/splitdns/splitdns.toml \-\-client 10.1.2.3 autodiscover.contoso.example\fR
Show which view that client gets, the answer it would receive, and where each record comes from.
.TP
\fBsplitdns diff \-\-config /etc/splitdns/splitdns.toml internal external\fR
List, name by name, the records that differ between two views.
.TP
\fBsplitdns status \-\-config /etc/splitdns/splitdns.toml\fR
Ask the running server (through the config's \fB[control] listen\fR address, or
\fB\-\-control 127.0.0.1:9153\fR) for its views, zones, serials, health checks and last
reload. It is a monitoring check: the first line is the verdict, and the exit status is 0 (OK),
1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN: the server cannot be asked).
.TP
\fBsplitdns reload \-\-config /etc/splitdns/splitdns.toml\fR
Ask the running server to reload now and print the outcome: \fBok\fR, \fBpartial\fR (zones
held back) or \fBrefused\fR (previous data kept); exit 1 with the \fIfile:line\fR errors unless
ok (what \fBsystemctl reload splitdns\fR runs).
.TP
\fBsplitdns tlsa \-\-starttls smtp mail.contoso.com:25\fR
Print the TLSA records for the certificate the MX host presents after STARTTLS, as zone file
lines for \fI_25._tcp.mail.contoso.com.\fR (see the DANE guide).
\fBsplitdns dnssec ds \-\-config /etc/splitdns/splitdns.toml contoso.example\fR
Print the DS records of a signed zone's published key-signing keys, for the registrar
(\fB\-\-dnskey\fR adds their DNSKEY records).
.TP
\fBsplitdns dnssec status \-\-config /etc/splitdns/splitdns.toml\fR
Show each signed zone's keys: role, state, CDS, next timing event. The key files are BIND's,
in \fIstate_dir\fR/keys: \fBdnssec\-keygen\fR(1) makes keys there and \fBdnssec\-settime\fR(1)
times them.
.SH FILES
.TP
\fI/etc/splitdns/splitdns.toml\fR
The configuration; zone file paths in it are relative to its directory. Every subcommand
without \fB\-\-config\fR uses the first of: \fB$SPLITDNS_CONFIG\fR if set;
\fIzones/splitdns.toml\fR if the working directory has one (the example in a source
checkout); \fI/etc/splitdns/splitdns.toml\fR.
.SH ENVIRONMENT
.TP
\fBSPLITDNS_CONFIG\fR
The config file when \fB\-\-config\fR is not given (an empty value counts as unset).
.TP
\fBRUST_LOG\fR
The log filter (default \fBinfo\fR), e.g. \fBsplitdns=debug\fR.
.SH CONTROL LISTENER
.TP
\fIhttp://127.0.0.1:9153/\fR, \fI/metrics\fR, \fI/status\fR, \fI/reload\fR
The control listener, when \fB[control] listen\fR is set: the status page, the metrics, the
status as JSON, and reloads.
.SH SEE ALSO
\fBsystemctl\fR(1), \fBdig\fR(1), /usr/share/doc/splitdns/README.md, and the admin guide by task in
/usr/share/doc/splitdns/docs/ (installing.md, configuration.md, operations.md and others)
"#;

/// Writes `splitdns.8` and the completions for bash, zsh and fish into `dir`.
pub fn generate_docs(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    use clap_complete::Shell;
    std::fs::create_dir_all(dir)?;
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone())
        .section("8")
        .manual("System Manager's Manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend_from_slice(MAN_EXTRA.as_bytes());
    man.render_version_section(&mut page)?;
    let mut written = vec![dir.join("splitdns.8")];
    std::fs::write(&written[0], page)?;
    // One page per subcommand, as the main page's SUBCOMMANDS section names them.
    let mut built = command.clone();
    built.build();
    for sub in built.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("splitdns-{}", sub.get_name());
        let sub = sub
            .clone()
            .display_name(&name)
            .bin_name(format!("splitdns {}", sub.get_name()));
        let path = dir.join(format!("{name}.8"));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub)
            .section("8")
            .manual("System Manager's Manual")
            .render(&mut page)?;
        std::fs::write(&path, page)?;
        written.push(path);
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        written.push(clap_complete::generate_to(
            shell,
            &mut command.clone(),
            "splitdns",
            dir,
        )?);
    }
    Ok(written)
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The control listener to ask (default: the config's `[control] listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub control: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub control: ControlArgs,
    /// Print the server's JSON as it is.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SecondaryConfigArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The view the secondary mirrors; for BIND, repeat it for one server mirroring several
    /// views (one config, each key defined once).
    #[arg(long, required = true)]
    pub view: Vec<String>,
    /// The secondary's software.
    #[arg(long = "for", value_enum)]
    pub secondary: crate::commands::secondary::Secondary,
    /// This server's address and port as the secondary reaches it.
    #[arg(long, value_name = "ADDR:PORT")]
    pub primary: SocketAddr,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Fail (exit 1) on warnings too, not only on errors.
    #[arg(long)]
    pub strict: bool,
    /// How to report: `human` (text to read) or `json` (one object, for scripts and monitoring).
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The client's source address: it picks the view, as a query from that address would.
    #[arg(long, value_name = "IP")]
    pub client: IpAddr,
    /// Sign the request with this `[[key]]`, as a secondary would: shows the view the key picks.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// The name asked for, e.g. mail.contoso.example.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The record type asked for (A, AAAA, MX, SRV, TXT, ... or TYPEnnn).
    #[arg(value_name = "TYPE", default_value = "A")]
    pub qtype: String,
    /// Check each health-checked address once, now, and answer as a server with those results
    /// would (without it, explain sends nothing and every address counts as up).
    #[arg(long)]
    pub probe: bool,
}

#[derive(Debug, Args)]
pub struct TlsaArgs {
    /// The server: `mail.contoso.com:25`, `10.0.0.21:25` or `[2001:db8::21]:443`.
    #[arg(value_name = "HOST:PORT")]
    pub server: String,
    /// Speak this protocol before TLS: `smtp` (EHLO, STARTTLS), for ports 25 and 587.
    #[arg(long, value_enum, value_name = "PROTOCOL")]
    pub starttls: Option<Starttls>,
    /// The host the records are for: the owner `_PORT._tcp.NAME.` and the TLS server name (SNI).
    /// Default: HOST; required when HOST is an address.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The first view, by its `name` in the config: its records are the `-` lines.
    #[arg(value_name = "VIEW_A")]
    pub view_a: String,
    /// The second view: its records are the `+` lines.
    #[arg(value_name = "VIEW_B")]
    pub view_b: String,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config file; paths in it are relative to its folder. Without it: $SPLITDNS_CONFIG if
    /// set, else zones/splitdns.toml if the working directory has one (a checkout's example),
    /// else /etc/splitdns/splitdns.toml (where the package installs it).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The config file the command uses: the first of `--config`, [`CONFIG_ENV`],
    /// [`CHECKOUT_CONFIG`] (if it exists) and [`SYSTEM_CONFIG`] (if it exists). A path the admin
    /// named is taken as it is, existing or not, so that a typo is reported as the file it names
    /// rather than silently replaced by another config.
    pub fn resolve(&self) -> Result<PathBuf, ConfigNotFound> {
        search(
            self.config.as_deref(),
            std::env::var_os(CONFIG_ENV),
            |path| path.is_file(),
        )
    }
}

/// [`ConfigArg::resolve`] with the environment and the file system passed in, for the tests.
fn search(
    given: Option<&std::path::Path>,
    env: Option<std::ffi::OsString>,
    exists: impl Fn(&std::path::Path) -> bool,
) -> Result<PathBuf, ConfigNotFound> {
    if let Some(given) = given {
        return Ok(given.to_path_buf());
    }
    // Set but empty counts as unset: `SPLITDNS_CONFIG= splitdns check` is how a shell clears it
    // for one command.
    if let Some(env) = env.filter(|env| !env.is_empty()) {
        return Ok(PathBuf::from(env));
    }
    [CHECKOUT_CONFIG, SYSTEM_CONFIG]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| exists(path))
        .ok_or_else(|| ConfigNotFound {
            working_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        })
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Listen on this address instead of the config's `listen`, UDP and TCP (repeatable:
    /// `--listen 0.0.0.0:53 --listen [::]:53` serves both families).
    #[arg(long, short, value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use std::path::{Path, PathBuf};

    use super::{CHECKOUT_CONFIG, Cli, SYSTEM_CONFIG, search};

    /// The search order, with the file system and environment faked: the installed system's
    /// branch (`/etc/splitdns/splitdns.toml` exists) cannot be run for real without writing /etc.
    #[test]
    fn the_config_search_order() {
        let found = |present: &'static [&'static str]| {
            move |path: &Path| present.iter().any(|p| path == Path::new(p))
        };
        let both: &[&str] = &[CHECKOUT_CONFIG, SYSTEM_CONFIG];
        let given = Path::new("given.toml");
        let env = || Some("env.toml".into());
        let ok = |r: Result<PathBuf, _>| r.expect("found");
        assert_eq!(ok(search(Some(given), env(), found(both))), given);
        assert_eq!(ok(search(None, env(), found(both))), Path::new("env.toml"));
        assert_eq!(
            ok(search(None, Some("".into()), found(both))),
            Path::new(CHECKOUT_CONFIG)
        );
        assert_eq!(
            ok(search(None, None, found(both))),
            Path::new(CHECKOUT_CONFIG)
        );
        assert_eq!(
            ok(search(None, None, found(&[SYSTEM_CONFIG]))),
            Path::new(SYSTEM_CONFIG)
        );
        let error = search(None, None, found(&[])).unwrap_err().to_string();
        assert!(
            error.contains(CHECKOUT_CONFIG) && error.contains(SYSTEM_CONFIG),
            "{error}"
        );
    }

    /// Every argument and option of every subcommand has help text, and so does every
    /// subcommand: `--help` is the first place an admin looks. clap's own `--help`,
    /// `--version` and `help` subcommand are left out.
    #[test]
    fn every_argument_and_subcommand_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if ["help", "version"].contains(&id) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path}: argument {id}"));
                }
            }
            for sub in command.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(format!("{sub_path}: no about"));
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut command = Cli::command();
        command.build();
        let mut missing = Vec::new();
        walk(&command, "splitdns", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:#?}");
    }
}
