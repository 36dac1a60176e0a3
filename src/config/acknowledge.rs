//! `[[acknowledge]]`: check findings the admin has looked at and accepts, each with the reason
//! written next to it. Matching them against the checks' findings is the checks' business.

use super::file;
use super::locate::Context;
use super::values;
use crate::dns::name::Name;

/// A validated `[[acknowledge]]` block: which finding about which name is accepted, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The check id, e.g. `apex-address-probed-by-outlook`.
    pub finding: String,
    /// The name the finding is about; lowercased.
    pub name: Name,
    /// Why it is acceptable; never blank.
    pub comment: String,
    /// Line of the block's `finding` key.
    pub line: u32,
}

pub(super) fn validate(raw: &[file::AcknowledgeSection], cx: &mut Context) -> Vec<Acknowledgement> {
    let mut acknowledgements: Vec<Acknowledgement> = Vec::new();
    for section in raw {
        let mark = cx.mark();
        let finding = section.finding.get_ref();
        // Check ids are kebab-case words (`private-address-in-public-view`); anything else can
        // never match one, and would silently acknowledge nothing.
        if finding.is_empty()
            || !finding
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            cx.error(
                section.finding.span(),
                format!("bad finding {finding:?}: use the check id as `check` prints it, e.g. \"apex-address-probed-by-outlook\""),
            );
        }
        let name = values::domain(&section.name, "acknowledged name", cx);
        let comment = comment(section, cx);
        let (Some(name), Some(comment), false) = (name, comment, cx.erred_since(mark)) else {
            continue;
        };
        let line = cx.line_of(section.finding.span());
        if let Some(first) = acknowledgements
            .iter()
            .find(|a| a.finding == *finding && a.name == name)
        {
            cx.error(
                section.finding.span(),
                format!(
                    "{finding} for {} is acknowledged twice (first at line {})",
                    section.name.get_ref().trim_end_matches('.'),
                    first.line
                ),
            );
            continue;
        }
        acknowledgements.push(Acknowledgement {
            finding: finding.clone(),
            name,
            comment,
            line,
        });
    }
    acknowledgements
}

/// The reason, trimmed; a block without one, or with a blank one, is an error.
fn comment(section: &file::AcknowledgeSection, cx: &mut Context) -> Option<String> {
    match &section.comment {
        None => {
            cx.error(
                section.finding.span(),
                format!(
                    "[[acknowledge]] of {} for {} has no comment: say why it is acceptable (comment = \"...\")",
                    section.finding.get_ref(),
                    section.name.get_ref().trim_end_matches('.')
                ),
            );
            None
        }
        Some(comment) if comment.get_ref().trim().is_empty() => {
            cx.error(
                comment.span(),
                "[[acknowledge]] comment is empty: say why the finding is acceptable",
            );
            None
        }
        Some(comment) => Some(comment.get_ref().trim().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;
    use crate::config::tests::{EXAMPLE, errors_of};

    /// `[[acknowledge]]` blocks become acknowledgements: the check id, the owner name
    /// (lowercased, absolute), the reason, and the line of `finding`.
    #[test]
    fn acknowledgements_are_parsed() {
        let text = format!(
            "{EXAMPLE}\n[[acknowledge]]\nfinding = \"apex-address-probed-by-outlook\"\nname = \"Contoso.Example.\"\ncomment = \"our website serves /autodiscover/ redirects\"\n\n[[acknowledge]]\nfinding = \"autodiscover-missing\"\nname = \"fabrikam.example\"\ncomment = \"mail for fabrikam is hosted elsewhere\"\n"
        );
        let config = parse(&text, Path::new("/etc/splitdns/splitdns.toml")).unwrap();
        let seen: Vec<(&str, String, &str, u32)> = config
            .acknowledgements
            .iter()
            .map(|a| {
                (
                    a.finding.as_str(),
                    a.name.to_string(),
                    a.comment.as_str(),
                    a.line,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                (
                    "apex-address-probed-by-outlook",
                    "contoso.example.".to_string(),
                    "our website serves /autodiscover/ redirects",
                    19
                ),
                (
                    "autodiscover-missing",
                    "fabrikam.example.".to_string(),
                    "mail for fabrikam is hosted elsewhere",
                    24
                ),
            ]
        );
        assert!(
            parse(EXAMPLE, Path::new("/etc/splitdns/splitdns.toml"))
                .unwrap()
                .acknowledgements
                .is_empty()
        );
    }

    /// An acknowledgement must say why: a missing or blank comment is a located error, as are
    /// a malformed check id or name, a block given twice, and an unknown key.
    #[test]
    fn acknowledgement_without_a_reason_is_a_located_error() {
        let block = |body: &str| format!("{EXAMPLE}\n[[acknowledge]]\n{body}");
        let errors = errors_of(&block(
            "finding = \"apex-address-probed-by-outlook\"\nname = \"contoso.example\"\n",
        ));
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:19:11: [[acknowledge]] of apex-address-probed-by-outlook for contoso.example has no comment: say why it is acceptable (comment = \"...\")"
            ]
        );
        let errors = errors_of(&block(
            "finding = \"apex-address-probed-by-outlook\"\nname = \"contoso.example\"\ncomment = \"  \"\n",
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .starts_with("/etc/splitdns/splitdns.toml:21:11: [[acknowledge]] comment is empty"),
            "{errors:?}"
        );
        let errors = errors_of(&block(
            "finding = \"Apex Address\"\nname = \"contoso..example\"\ncomment = \"x\"\nreason = \"y\"\n",
        ));
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("/etc/splitdns/splitdns.toml:22:1: unknown field `reason` in [[acknowledge]] (expected one of: finding, name, comment)"), "{errors:?}");
        assert!(
            errors[1]
                .starts_with("/etc/splitdns/splitdns.toml:19:11: bad finding \"Apex Address\""),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with(
                "/etc/splitdns/splitdns.toml:20:8: bad acknowledged name \"contoso..example\""
            ),
            "{errors:?}"
        );
        let twice = "finding = \"a-b\"\nname = \"contoso.example\"\ncomment = \"x\"\n";
        let errors = errors_of(&format!("{}\n[[acknowledge]]\n{twice}", block(twice)));
        assert_eq!(
            errors,
            [
                "/etc/splitdns/splitdns.toml:24:11: a-b for contoso.example is acknowledged twice (first at line 19)"
            ]
        );
    }
}
