//! Key files as `tsig-keygen` (BIND) writes them, so that a secret can stay out of the main
//! config and a key made for BIND is used as it is:
//!
//! ```text
//! key "internal-xfr" {
//!         algorithm hmac-sha256;
//!         secret "base64…";
//! };
//! ```
//!
//! Several `key` blocks may follow each other; `#`, `//` and `/* */` comments are skipped. Only
//! the text is read here: [`super`] checks the algorithm and the base64 and locates errors.

/// One `key` block: each value with its line and column in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyBlock {
    pub name: Positioned,
    pub algorithm: Option<Positioned>,
    pub secret: Option<Positioned>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Positioned {
    pub text: String,
    pub line: u32,
    pub column: u32,
}

/// A syntax error at a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semicolon,
}

fn tokens(text: &str) -> Result<Vec<(Token, u32, u32)>, SyntaxError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut column) = (0usize, 1u32, 1u32);
    let advance = |i: &mut usize, line: &mut u32, column: &mut u32, c: char| {
        *i += 1;
        if c == '\n' {
            *line += 1;
            *column = 1;
        } else {
            *column += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let (at_line, at_column) = (line, column);
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut column, c);
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                let skipped = chars[i];
                advance(&mut i, &mut line, &mut column, skipped);
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            loop {
                if i >= chars.len() {
                    return Err(SyntaxError {
                        line: at_line,
                        column: at_column,
                        message: "comment is not closed (*/)".into(),
                    });
                }
                if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    advance(&mut i, &mut line, &mut column, '*');
                    advance(&mut i, &mut line, &mut column, '/');
                    break;
                }
                let skipped = chars[i];
                advance(&mut i, &mut line, &mut column, skipped);
            }
        } else if c == '"' {
            advance(&mut i, &mut line, &mut column, c);
            let mut value = String::new();
            loop {
                match chars.get(i) {
                    None | Some('\n') => {
                        return Err(SyntaxError {
                            line: at_line,
                            column: at_column,
                            message: "quoted string is not closed".into(),
                        });
                    }
                    Some('"') => {
                        advance(&mut i, &mut line, &mut column, '"');
                        break;
                    }
                    Some(&other) => {
                        value.push(other);
                        advance(&mut i, &mut line, &mut column, other);
                    }
                }
            }
            out.push((Token::Quoted(value), at_line, at_column));
        } else if matches!(c, '{' | '}' | ';') {
            advance(&mut i, &mut line, &mut column, c);
            let token = match c {
                '{' => Token::Open,
                '}' => Token::Close,
                _ => Token::Semicolon,
            };
            out.push((token, at_line, at_column));
        } else {
            let mut word = String::new();
            while let Some(&w) = chars.get(i) {
                if w.is_whitespace() || matches!(w, '{' | '}' | ';' | '"') {
                    break;
                }
                word.push(w);
                advance(&mut i, &mut line, &mut column, w);
            }
            out.push((Token::Word(word), at_line, at_column));
        }
    }
    Ok(out)
}

/// Reads every `key` block of a key file.
pub(super) fn parse(text: &str) -> Result<Vec<KeyBlock>, SyntaxError> {
    let tokens = tokens(text)?;
    let mut blocks = Vec::new();
    let mut pos = 0usize;
    let end = tokens.last().map_or((1, 1), |t| (t.1, t.2));
    let error = |at: Option<&(Token, u32, u32)>, message: &str| {
        let (line, column) = at.map_or(end, |t| (t.1, t.2));
        SyntaxError {
            line,
            column,
            message: message.into(),
        }
    };
    let value = |token: &(Token, u32, u32)| match &token.0 {
        Token::Word(text) | Token::Quoted(text) => Some(Positioned {
            text: text.clone(),
            line: token.1,
            column: token.2,
        }),
        _ => None,
    };
    while pos < tokens.len() {
        if tokens[pos].0 != Token::Word("key".into()) {
            return Err(error(tokens.get(pos), "expected `key \"name\" { … };`"));
        }
        let name = tokens
            .get(pos + 1)
            .and_then(value)
            .ok_or_else(|| error(tokens.get(pos + 1), "expected the key's name after `key`"))?;
        if tokens.get(pos + 2).map(|t| &t.0) != Some(&Token::Open) {
            return Err(error(
                tokens.get(pos + 2),
                "expected `{` after the key's name",
            ));
        }
        pos += 3;
        let mut block = KeyBlock {
            name,
            algorithm: None,
            secret: None,
        };
        loop {
            match tokens.get(pos).map(|t| &t.0) {
                Some(Token::Close) => break,
                Some(Token::Word(word)) if word == "algorithm" || word == "secret" => {
                    let v = tokens
                        .get(pos + 1)
                        .and_then(value)
                        .ok_or_else(|| error(tokens.get(pos + 1), "expected a value"))?;
                    if tokens.get(pos + 2).map(|t| &t.0) != Some(&Token::Semicolon) {
                        return Err(error(tokens.get(pos + 2), "expected `;`"));
                    }
                    if word == "algorithm" {
                        block.algorithm = Some(v);
                    } else {
                        block.secret = Some(v);
                    }
                    pos += 3;
                }
                _ => {
                    return Err(error(
                        tokens.get(pos),
                        "expected `algorithm …;`, `secret \"…\";` or `}`",
                    ));
                }
            }
        }
        if tokens.get(pos + 1).map(|t| &t.0) != Some(&Token::Semicolon) {
            return Err(error(tokens.get(pos + 1), "expected `;` after `}`"));
        }
        pos += 2;
        blocks.push(block);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let text = "key \"internal-xfr\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n};\n# two\nkey other { algorithm hmac-sha512; secret \"eA==\"; }; // done\n";
        let blocks = parse(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].name.text, "internal-xfr");
        let secret = blocks[0].secret.as_ref().unwrap();
        assert_eq!(
            (secret.text.as_str(), secret.line, secret.column),
            ("c2VjcmV0", 3, 9)
        );
        assert_eq!(blocks[1].algorithm.as_ref().unwrap().text, "hmac-sha512");
    }

    #[test]
    fn syntax_errors_are_located() {
        let error =
            parse("key \"k\" {\n  algorithm hmac-sha256\n  secret \"x\";\n};\n").unwrap_err();
        assert_eq!((error.line, error.column), (3, 3), "{error:?}");
        assert!(parse("key \"k\" { secret \"x; };").is_err());
    }
}
