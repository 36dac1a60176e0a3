//! Values that several sections write the same way, each parsed and reported by one function:
//! bounded integers and durations, client prefixes, upstream addresses and domain names.
//!
//! A bounded setting is one row, [`Integer`] or [`Seconds`], declared beside the section that
//! checks it, so that its type, bounds and default are read in one place (Knot's conf schema
//! keeps them in one row for the same reason).

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;
use toml::Spanned;

use super::locate::Context;
use crate::dns::name::{Name, NameError};

/// The largest TTL RFC 2181 §8 allows.
pub(super) const TTL_MAX: i64 = 0x7fff_ffff;

/// An integer setting: its bounds (inclusive) and the value it takes when not written.
#[derive(Clone, Copy)]
pub(super) struct Integer {
    pub min: i64,
    pub max: i64,
    pub default: i64,
}

impl Integer {
    /// The value written, or the default when absent. Out of bounds, an error naming `key` and
    /// the bounds, and the default, so that validation goes on.
    pub(super) fn check(&self, value: Option<&Spanned<i64>>, key: &str, cx: &mut Context) -> i64 {
        match value {
            None => self.default,
            Some(v) if (self.min..=self.max).contains(v.get_ref()) => *v.get_ref(),
            Some(v) => {
                cx.error(
                    v.span(),
                    format!(
                        "{key} = {} is out of range: use {} to {}",
                        v.get_ref(),
                        self.min,
                        self.max
                    ),
                );
                self.default
            }
        }
    }
}

/// A duration written in seconds: its bounds (the upper one inclusive) and the value it takes
/// when not written.
#[derive(Clone, Copy)]
pub(super) struct Seconds {
    pub min: Min,
    pub max: f64,
    pub default: Duration,
}

/// The lower bound of [`Seconds`].
#[derive(Clone, Copy)]
pub(super) enum Min {
    /// Anything above: 0 itself would be no time at all.
    Above(f64),
    AtLeast(f64),
}

impl Seconds {
    /// As [`Integer::check`], for seconds.
    pub(super) fn check(
        &self,
        value: Option<&Spanned<f64>>,
        key: &str,
        cx: &mut Context,
    ) -> Duration {
        let Some(s) = value else {
            return self.default;
        };
        let seconds = *s.get_ref();
        let (low_enough, bounds) = match self.min {
            Min::Above(min) => (seconds > min, format!("above {min} and up to {}", self.max)),
            Min::AtLeast(min) => (seconds >= min, format!("from {min} to {}", self.max)),
        };
        if low_enough && seconds <= self.max {
            return Duration::from_secs_f64(seconds);
        }
        cx.error(
            s.span(),
            format!("{key} = {seconds} is out of range: use seconds {bounds}"),
        );
        self.default
    }
}

/// A value of type `T` written as a string; a bad one is reported as "bad `what` "text":
/// `expected`" and left out.
pub(super) fn parsed<T: std::str::FromStr>(
    text: &Spanned<String>,
    what: &str,
    expected: &str,
    cx: &mut Context,
) -> Option<T> {
    let parsed = text.get_ref().parse::<T>().ok();
    if parsed.is_none() {
        cx.error(
            text.span(),
            format!("bad {what} {:?}: {expected}", text.get_ref()),
        );
    }
    parsed
}

/// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a host prefix). Host bits must be
/// zero: `10.0.0.1/8` is almost always a typo, and silently truncating it would hide it.
pub(super) fn prefix(text: &str) -> Result<IpNet, String> {
    let net: IpNet = if text.contains('/') {
        text.parse()
            .map_err(|_| format!("bad client prefix {text:?}: expected CIDR like \"10.0.0.0/8\""))?
    } else {
        let addr: std::net::IpAddr = text.parse().map_err(|_| {
            format!("bad client prefix {text:?}: expected CIDR like \"10.0.0.0/8\"")
        })?;
        IpNet::from(addr)
    };
    if net.trunc() != net {
        return Err(format!(
            "client prefix {text:?} has host bits set: did you mean \"{}\"?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// A list of prefixes; each bad one is reported and left out.
pub(super) fn prefixes(list: &[Spanned<String>], cx: &mut Context) -> Vec<IpNet> {
    list.iter()
        .filter_map(|p| prefix(p.get_ref()).map_err(|m| cx.error(p.span(), m)).ok())
        .collect()
}

/// An upstream address: `192.0.2.53`, `192.0.2.53:5353`, `2001:db8::53` or `[2001:db8::53]:5353`.
pub(super) fn upstream(text: &str) -> Option<SocketAddr> {
    text.parse::<SocketAddr>()
        .ok()
        .or_else(|| Some(SocketAddr::new(text.parse().ok()?, 53)))
}

/// A name as the config writes it: absolute whether or not it ends in a dot.
pub(super) fn name(text: &str) -> Result<Name, NameError> {
    Name::parse(text.trim_end_matches('.'), Some(&Name::root()))
}

/// A domain below the root, lowercased; `what` names it in the error.
pub(super) fn domain(text: &Spanned<String>, what: &str, cx: &mut Context) -> Option<Name> {
    match name(text.get_ref()) {
        Ok(name) if !name.is_root() => Some(name.to_lowercase()),
        Ok(_) => {
            cx.error(text.span(), format!("bad {what}: the root is not allowed"));
            None
        }
        Err(e) => {
            cx.error(text.span(), format!("bad {what} {:?}: {e}", text.get_ref()));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{EXAMPLE, errors_of};

    /// Every section reports the line of the bad value, and a zero or out-of-range limit is an
    /// error naming the key and the range, never silently raised.
    #[test]
    fn limits_out_of_range_are_located_errors() {
        let text = format!(
            "{EXAMPLE}\n[tcp]\nmax_connections = 0\nidle_timeout = 0\n\n[[exchange]]\nnamespace = \"mail.contoso.example\"\nttl = 2147483648\n"
        )
        .replace(
            "clients = [\"0.0.0.0/0\", \"::/0\"]",
            "clients = [\"0.0.0.0/0\", \"::/0\"]\n[view.rrl]\nresponses_per_second = 0\nslip = 11",
        );
        let errors = errors_of(&text);
        let tail = |needle: &str| {
            errors
                .iter()
                .find(|e| e.contains(needle))
                .unwrap_or_else(|| panic!("no error about {needle}: {errors:?}"))
                .clone()
        };
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            tail("responses_per_second").starts_with("/etc/splitdns/splitdns.toml:11:24: [view.rrl] responses_per_second = 0 is out of range: use 1 to 1000000"),
            "{errors:?}"
        );
        assert!(tail("slip").contains(":12:8: [view.rrl] slip = 11 is out of range: use 0 to 10"));
        assert!(
            tail("max_connections")
                .contains(":22:19: [tcp] max_connections = 0 is out of range: use 1 to 1000000")
        );
        assert!(tail("idle_timeout").contains(":23:16: [tcp] idle_timeout = 0 is out of range"));
        assert!(
            tail("ttl").contains(
                ":27:7: [[exchange]] ttl = 2147483648 is out of range: use 0 to 2147483647"
            )
        );
    }
}
