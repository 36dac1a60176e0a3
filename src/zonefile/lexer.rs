//! The master-file tokenizer (RFC 1035 §5.1): splits the input into entries (one logical line,
//! joined across parentheses) of tokens, dropping comments. Tokens borrow the input and keep
//! their escapes undecoded, because what an escape means depends on the field: `\#` only
//! introduces generic RDATA when written unescaped, and names and character-strings decode
//! `\DDD` differently (a name's `\.` is not a label separator).

/// One token of an entry. `text` is the raw text (for a quoted token, what is between the
/// quotes), escapes included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a [u8],
    pub quoted: bool,
    /// Line on which the token starts (1-based).
    pub line: u32,
}

impl Token<'_> {
    /// An unquoted token equal to `word`, ignoring ASCII case.
    pub fn is_word(&self, word: &str) -> bool {
        !self.quoted && self.text.eq_ignore_ascii_case(word.as_bytes())
    }

    /// The token for messages: quoted, lossily decoded, and shortened if very long.
    pub fn display(&self) -> String {
        const MAX: usize = 80;
        let text = String::from_utf8_lossy(self.text);
        if text.chars().count() > MAX {
            let short: String = text.chars().take(MAX).collect();
            format!("\"{short}...\"")
        } else {
            format!("\"{text}\"")
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Line of the entry's first token, where the record "is" for messages and `SourceLoc`.
    pub line: u32,
    /// The entry's first line starts with a blank: the owner is the previous record's.
    pub blank_owner: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: u32,
    pub message: String,
}

pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: u32,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a [u8]) -> Self {
        let pos = if src.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        Lexer { src, pos, line: 1 }
    }

    /// Reads the next non-empty entry into `tokens` (which it clears first); `None` at the end
    /// of the input. After an error the lexer resumes at the next line, so that later entries
    /// are still checked.
    pub(super) fn next_entry(
        &mut self,
        tokens: &mut Vec<Token<'a>>,
    ) -> Option<Result<Entry, LexError>> {
        loop {
            tokens.clear();
            if self.pos >= self.src.len() {
                return None;
            }
            let blank_owner = matches!(self.src[self.pos], b' ' | b'\t');
            match self.read_entry(tokens) {
                Err(e) => return Some(Err(e)),
                Ok(()) => {
                    if let Some(first) = tokens.first() {
                        return Some(Ok(Entry {
                            line: first.line,
                            blank_owner,
                        }));
                    }
                }
            }
        }
    }

    /// Consumes one logical line: up to a newline outside parentheses, or the end of input.
    fn read_entry(&mut self, tokens: &mut Vec<Token<'a>>) -> Result<(), LexError> {
        let mut depth = 0u32;
        let mut open_line = 0u32;
        while let Some(&c) = self.src.get(self.pos) {
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => self.pos += 1,
                b';' => self.skip_to_newline(),
                b'(' => {
                    if depth == 0 {
                        open_line = self.line;
                    }
                    depth = depth.saturating_add(1);
                    self.pos += 1;
                }
                b')' => {
                    if depth == 0 {
                        let line = self.line;
                        self.skip_to_newline();
                        return Err(LexError {
                            line,
                            message: "unbalanced parenthesis: ')' without a matching '('".into(),
                        });
                    }
                    depth -= 1;
                    self.pos += 1;
                }
                b'"' => {
                    let line = self.line;
                    let start = self.pos + 1;
                    let end = self.scan_quoted(start)?;
                    tokens.push(Token {
                        text: &self.src[start..end],
                        quoted: true,
                        line,
                    });
                    self.pos = end + 1;
                }
                _ => {
                    let line = self.line;
                    let start = self.pos;
                    let end = self.scan_word(start)?;
                    tokens.push(Token {
                        text: &self.src[start..end],
                        quoted: false,
                        line,
                    });
                    self.pos = end;
                }
            }
        }
        if depth > 0 {
            return Err(LexError {
                line: open_line,
                message: "unbalanced parenthesis: '(' is never closed".into(),
            });
        }
        Ok(())
    }

    /// From just after an opening quote, the position of the closing quote. A quoted string
    /// may not run past the end of its line.
    fn scan_quoted(&mut self, mut i: usize) -> Result<usize, LexError> {
        loop {
            match self.src.get(i) {
                Some(b'"') => return Ok(i),
                Some(b'\\') if !matches!(self.src.get(i + 1), None | Some(b'\n')) => i += 2,
                Some(b'\n') | None => {
                    let line = self.line;
                    self.pos = i;
                    self.skip_to_newline();
                    return Err(LexError {
                        line,
                        message: "unterminated quoted string".into(),
                    });
                }
                Some(_) => i += 1,
            }
        }
    }

    /// The end of an unquoted token. A quote right after `=` opens a quoted value inside the
    /// token (RFC 9460 `key="value"`); any other quote is an ordinary character, as in BIND.
    fn scan_word(&mut self, mut i: usize) -> Result<usize, LexError> {
        let mut after_equals = false;
        while let Some(&c) = self.src.get(i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c' | b';' | b'(' | b')' => break,
                b'\\' => {
                    after_equals = false;
                    i += if matches!(self.src.get(i + 1), None | Some(b'\n')) {
                        1
                    } else {
                        2
                    };
                }
                b'"' if after_equals => {
                    after_equals = false;
                    i = self.scan_quoted(i + 1)? + 1;
                }
                _ => {
                    after_equals = c == b'=';
                    i += 1;
                }
            }
        }
        Ok(i)
    }

    fn skip_to_newline(&mut self) {
        while let Some(&c) = self.src.get(self.pos) {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }
}

/// All tokens of `text`, ignoring entry boundaries (for RDATA given on its own).
pub(crate) fn tokenize(text: &[u8]) -> Result<Vec<Token<'_>>, LexError> {
    let mut lexer = Lexer::new(text);
    let mut all = Vec::new();
    let mut entry = Vec::new();
    while let Some(result) = lexer.next_entry(&mut entry) {
        result?;
        all.extend_from_slice(&entry);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, quoted, line) of each token of an entry.
    type Tokens = Vec<(String, bool, u32)>;

    fn entries(text: &str) -> Vec<Result<(Entry, Tokens), LexError>> {
        let mut lexer = Lexer::new(text.as_bytes());
        let mut tokens = Vec::new();
        let mut out = Vec::new();
        while let Some(r) = lexer.next_entry(&mut tokens) {
            out.push(r.map(|e| {
                let toks = tokens
                    .iter()
                    .map(|t| {
                        (
                            String::from_utf8_lossy(t.text).into_owned(),
                            t.quoted,
                            t.line,
                        )
                    })
                    .collect();
                (e, toks)
            }));
        }
        out
    }

    fn words(text: &str) -> Vec<Vec<String>> {
        entries(text)
            .into_iter()
            .map(|r| r.unwrap().1.into_iter().map(|t| t.0).collect())
            .collect()
    }

    #[test]
    fn splits_entries_and_drops_comments() {
        assert_eq!(
            words("a A 1.2.3.4 ; c\n\n ; only comment\n\tB  x\r\n"),
            vec![vec!["a", "A", "1.2.3.4"], vec!["B", "x"]]
        );
    }

    #[test]
    fn parentheses_join_lines_and_keep_the_start_line() {
        let e = entries("\n@ SOA a b (1 ; serial\n 2\n3 4\n 5)\nx A 1.1.1.1\n");
        let (entry, toks) = e[0].as_ref().unwrap();
        assert_eq!(entry.line, 2);
        assert!(!entry.blank_owner);
        assert_eq!(toks.len(), 9);
        assert_eq!(toks[8], ("5".into(), false, 5));
        assert_eq!(e[1].as_ref().unwrap().0.line, 6);
    }

    #[test]
    fn blank_owner_lines() {
        let e = entries("a A 1.1.1.1\n  A 2.2.2.2\n\tTXT x\n");
        let flags: Vec<bool> = e
            .iter()
            .map(|r| r.as_ref().unwrap().0.blank_owner)
            .collect();
        assert_eq!(flags, vec![false, true, true]);
    }

    #[test]
    fn quotes_and_escapes() {
        let e = entries(r#"t TXT "a b;c" x\ y "\"" \(p\) "" a"b"#);
        let toks = &e[0].as_ref().unwrap().1;
        let got: Vec<(&str, bool)> = toks.iter().map(|t| (t.0.as_str(), t.1)).collect();
        assert_eq!(
            got,
            vec![
                ("t", false),
                ("TXT", false),
                ("a b;c", true),
                (r"x\ y", false),
                (r#"\""#, true),
                (r"\(p\)", false),
                ("", true),
                (r#"a"b"#, false)
            ]
        );
    }

    #[test]
    fn svcb_quoted_values_stay_in_their_token() {
        assert_eq!(
            words(r#"s HTTPS 1 . alpn="h2,h3 x" port=8443"#),
            vec![vec![
                "s",
                "HTTPS",
                "1",
                ".",
                r#"alpn="h2,h3 x""#,
                "port=8443"
            ]]
        );
    }

    #[test]
    fn errors_report_their_line_and_recover() {
        let e = entries("a TXT \"open\nb A 1.1.1.1\nc A 1.1.1.1 )\nd A 2.2.2.2\ne SOA (\n1\n");
        assert_eq!(
            e[0],
            Err(LexError {
                line: 1,
                message: "unterminated quoted string".into()
            })
        );
        assert_eq!(e[1].as_ref().unwrap().1[0].0, "b");
        assert_eq!(e[2].as_ref().unwrap_err().line, 3);
        assert!(
            e[2].as_ref()
                .unwrap_err()
                .message
                .contains("unbalanced parenthesis")
        );
        assert_eq!(e[3].as_ref().unwrap().1[0].0, "d");
        assert_eq!(e[4].as_ref().unwrap_err().line, 5);
        assert_eq!(e.len(), 5);
    }

    #[test]
    fn trailing_backslash_does_not_swallow_the_newline() {
        assert_eq!(
            words("a TXT x\\\nb A 1"),
            vec![vec!["a", "TXT", "x\\"], vec!["b", "A", "1"]]
        );
        assert!(entries("a TXT \"x\\\n\"").first().unwrap().is_err());
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        assert_eq!(words("\u{feff}a A 1"), vec![vec!["a", "A", "1"]]);
    }
}
