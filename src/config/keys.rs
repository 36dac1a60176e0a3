//! `[[key]]`: TSIG keys, written in the config or read from a `tsig-keygen` file (whose errors
//! point into that file), and the lists elsewhere that name them (a view's `keys`,
//! `transfer.keys`).

use std::sync::Arc;

use toml::Spanned;

use super::locate::Context;
use super::{file, keyfile, values};
use crate::located::Located;
use crate::wire::tsig::{self, Algorithm};

/// A validated TSIG key.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub key: Arc<tsig::Key>,
    /// Line of the `[[key]]` entry's first value, for findings about the key.
    pub line: u32,
}

/// One part of a key as written, and where an error about it points: into the config, or into
/// the key file it came from.
struct Written<T> {
    value: T,
    /// A place: its message is empty.
    at: Located,
}

impl<T> Written<T> {
    fn error(&self, message: String) -> Located {
        Located {
            message,
            ..self.at.clone()
        }
    }
}

/// A key's parts before they are checked; the algorithm is absent when not written.
struct Parts {
    name: Written<String>,
    algorithm: Written<Option<String>>,
    secret: Written<String>,
}

/// Validates the `[[key]]` entries: a name, a known algorithm and a base64 secret.
pub(super) fn validate(raw: &[file::KeySection], cx: &mut Context) -> Vec<KeyConfig> {
    let mut keys: Vec<KeyConfig> = Vec::new();
    for section in raw {
        let first_span = section
            .name
            .as_ref()
            .map(|n| n.span())
            .or_else(|| section.secret_file.as_ref().map(|f| f.span()))
            .or_else(|| section.secret.as_ref().map(|s| s.span()))
            .unwrap_or(0..0);
        let line = cx.line_of(first_span.clone());
        let mark = cx.mark();
        let Some(parts) = parts(section, first_span, cx) else {
            continue;
        };
        let name_text = &parts.name.value;
        let name = match values::name(name_text) {
            Ok(name) if !name.is_root() => Some(name.to_lowercase()),
            _ => {
                cx.push(parts.name.error(format!("bad key name {name_text:?}")));
                None
            }
        };
        let algorithm = algorithm(&parts.algorithm, cx);
        let secret = secret(&parts.secret, cx);
        if let (Some(name), Some(algorithm), Some(secret)) = (&name, algorithm, secret) {
            if keys.iter().any(|k| k.key.name == *name) {
                cx.push(
                    parts
                        .name
                        .error(format!("key {name_text:?} is defined twice")),
                );
            }
            if !cx.erred_since(mark) {
                keys.push(KeyConfig {
                    key: Arc::new(tsig::Key::new(name, algorithm, &secret)),
                    line,
                });
            }
        }
    }
    keys
}

/// The parts of one `[[key]]`: from its own values, or from its `secret_file`.
fn parts(
    section: &file::KeySection,
    first_span: std::ops::Range<usize>,
    cx: &mut Context,
) -> Option<Parts> {
    let written = |s: &Spanned<String>, cx: &Context| Written {
        value: s.get_ref().clone(),
        at: cx.at(s.span()),
    };
    match (&section.secret, &section.secret_file) {
        (Some(_), Some(file)) => {
            cx.error(
                file.span(),
                "a [[key]] has either `secret` or `secret_file`, not both",
            );
            None
        }
        (None, None) => {
            cx.error(
                first_span,
                "a [[key]] needs `secret = \"base64\"` or `secret_file = \"file\"` (as tsig-keygen writes it)",
            );
            None
        }
        (Some(secret), None) => {
            let Some(name) = &section.name else {
                cx.error(secret.span(), "a [[key]] with `secret` needs a `name`");
                return None;
            };
            Some(Parts {
                name: written(name, cx),
                algorithm: Written {
                    value: section.algorithm.as_ref().map(|a| a.get_ref().clone()),
                    at: cx.at(section.algorithm.as_ref().unwrap_or(name).span()),
                },
                secret: written(secret, cx),
            })
        }
        (None, Some(file)) => from_file(section, file, cx),
    }
}

/// The key a `secret_file` holds: the one named by `name`, or the file's only key.
fn from_file(
    section: &file::KeySection,
    file: &Spanned<String>,
    cx: &mut Context,
) -> Option<Parts> {
    let path = cx.resolve(file.get_ref());
    if let Some(algorithm) = &section.algorithm {
        cx.error(
            algorithm.span(),
            "the algorithm comes from the secret_file: leave `algorithm` out",
        );
        return None;
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            cx.error(
                file.span(),
                format!("cannot read key file {}: {e}", path.display()),
            );
            return None;
        }
    };
    let in_file = |line: u32, column: u32, message: String| Located {
        file: path.clone(),
        line,
        column,
        message,
    };
    let blocks = match keyfile::parse(&text) {
        Ok(blocks) => blocks,
        Err(e) => {
            cx.push(in_file(e.line, e.column, e.message));
            return None;
        }
    };
    let Some(block) = pick(&blocks, section.name.as_ref()) else {
        let message = match &section.name {
            Some(name) => format!("{} has no key {:?}", path.display(), name.get_ref()),
            None => format!(
                "{} holds {} keys: pick one with `name`",
                path.display(),
                blocks.len()
            ),
        };
        cx.error(file.span(), message);
        return None;
    };
    let place = |p: &keyfile::Positioned| in_file(p.line, p.column, String::new());
    let Some(secret) = &block.secret else {
        cx.push(in_file(
            block.name.line,
            block.name.column,
            format!("key {:?} has no secret", block.name.text),
        ));
        return None;
    };
    Some(Parts {
        name: Written {
            value: block.name.text.clone(),
            at: place(&block.name),
        },
        algorithm: Written {
            value: block.algorithm.as_ref().map(|a| a.text.clone()),
            at: place(block.algorithm.as_ref().unwrap_or(&block.name)),
        },
        secret: Written {
            value: secret.text.clone(),
            at: place(secret),
        },
    })
}

/// The block named `name` (as DNS compares names), or the only block when no name is given.
fn pick<'b>(
    blocks: &'b [keyfile::KeyBlock],
    name: Option<&Spanned<String>>,
) -> Option<&'b keyfile::KeyBlock> {
    match name {
        Some(name) => blocks.iter().find(|b| {
            b.name
                .text
                .trim_end_matches('.')
                .eq_ignore_ascii_case(name.get_ref().trim_end_matches('.'))
        }),
        None if blocks.len() == 1 => blocks.first(),
        None => None,
    }
}

/// HMAC-SHA256 when none is written.
fn algorithm(written: &Written<Option<String>>, cx: &mut Context) -> Option<Algorithm> {
    let Some(text) = written.value.as_deref() else {
        return Some(Algorithm::HmacSha256);
    };
    let found = Algorithm::from_text(text);
    if found.is_none() {
        cx.push(written.error(format!(
            "unknown TSIG algorithm {text:?}: use \"hmac-sha256\", \"hmac-sha384\" or \"hmac-sha512\""
        )));
    }
    found
}

fn secret(written: &Written<String>, cx: &mut Context) -> Option<Vec<u8>> {
    match data_encoding::BASE64.decode(written.value.trim().as_bytes()) {
        Ok(bytes) if !bytes.is_empty() => Some(bytes),
        Ok(_) => {
            cx.push(written.error("the key's secret is empty".into()));
            None
        }
        Err(e) => {
            cx.push(written.error(format!(
                "the key's secret is not valid base64 ({e}): use the secret tsig-keygen prints"
            )));
            None
        }
    }
}

/// The indexes of the keys a list names; a name no `[[key]]` defines is an error. `what` is the
/// list's key, for the message.
pub(super) fn indexes(
    names: &[Spanned<String>],
    keys: &[KeyConfig],
    what: &str,
    cx: &mut Context,
) -> Vec<usize> {
    names
        .iter()
        .filter_map(|name| {
            let wanted = name.get_ref().trim_end_matches('.');
            let found = keys
                .iter()
                .position(|k| k.key.name_text().eq_ignore_ascii_case(wanted));
            if found.is_none() {
                cx.error(
                    name.span(),
                    format!(
                        "{what} names key {:?}, which no [[key]] defines",
                        name.get_ref()
                    ),
                );
            }
            found
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};
    use crate::wire::tsig::Algorithm;

    /// A secret that is not base64, an unknown algorithm, a view naming an undefined key, and a
    /// key selecting two views: each an error at the value's line and column.
    #[test]
    fn key_errors_are_located() {
        let text = format!(
            "{}\n[[key]]\nname = \"a\"\nsecret = \"not base64!\"\n\n[[key]]\nname = \"b\"\nalgorithm = \"hmac-md5\"\nsecret = \"c2VjcmV0\"\n\n[[key]]\nname = \"c\"\nsecret = \"c2VjcmV0\"\n",
            EXAMPLE
                .replace(
                    "clients = [\"10.0.0.0/8\", \"192.168.0.0/16\", \"127.0.0.2/32\"]",
                    "clients = []\nkeys = [\"c\", \"nope\"]"
                )
                .replace(
                    "clients = [\"0.0.0.0/0\", \"::/0\"]",
                    "clients = []\nkeys = [\"c\"]\ntransfer = { keys = [\"gone\"] }"
                )
        );
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "/etc/splitdns/splitdns.toml:23:10: the key's secret is not valid base64"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(
                "/etc/splitdns/splitdns.toml:27:13: unknown TSIG algorithm \"hmac-md5\""
            ),
            "{errors:?}"
        );
        assert!(errors[2].starts_with("/etc/splitdns/splitdns.toml:6:14: keys names key \"nope\", which no [[key]] defines"), "{errors:?}");
        assert!(
            errors[3].contains(":11:9: key \"c\" already selects view \"internal\""),
            "{errors:?}"
        );
        assert!(
            errors[4].contains(":12:22: transfer.keys names key \"gone\""),
            "{errors:?}"
        );
    }

    /// A key file as tsig-keygen writes it is read; a bad secret in it is reported in the key
    /// file, at its line and column.
    #[test]
    fn key_files_are_read_and_their_errors_located() {
        let dir = crate::scratch::Scratch::new("keyfile");
        let key_file = dir.join("xfr.key");
        std::fs::write(
            &key_file,
            "key \"xfr\" {\n\talgorithm hmac-sha384;\n\tsecret \"c2VjcmV0\";\n};\n",
        )
        .unwrap();
        let config = dir.join("splitdns.toml");
        let text = format!("{EXAMPLE}\n[[key]]\nsecret_file = \"xfr.key\"\n");
        let parsed = parse(&text, &config).unwrap();
        assert_eq!(parsed.keys[0].key.name_text(), "xfr");
        assert_eq!(parsed.keys[0].key.algorithm, Algorithm::HmacSha384);
        assert_eq!(parsed.keys[0].key.secret_base64(), "c2VjcmV0");
        std::fs::write(
            &key_file,
            "key \"xfr\" {\n\talgorithm hmac-sha384;\n\tsecret \"c2Vj*\";\n};\n",
        )
        .unwrap();
        let errors: Vec<String> = parse(&text, &config)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!(
                "{}:3:9: the key's secret is not valid base64",
                key_file.display()
            )),
            "{errors:?}"
        );
    }
}
