//! Splits filter text into tokens: brackets, JSON string literals, and words.
//!
//! A word is a run of anything but whitespace, brackets and `"`: attribute paths (URNs hold `:`
//! and `.`), keywords, numbers and the `.subAttr` after a PATCH value path all lex alike, and the
//! parser decides what a word means from where it stands.

use std::fmt;

use super::FilterErrorKind;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A string literal, decoded.
    Str(String),
    Word(&'a str),
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'a> {
    pub tok: Tok<'a>,
    /// Byte offset of the token's first character.
    pub start: usize,
}

impl fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LParen => f.write_str("'('"),
            Self::RParen => f.write_str("')'"),
            Self::LBracket => f.write_str("'['"),
            Self::RBracket => f.write_str("']'"),
            Self::Str(s) => write!(f, "the string {}", serde_json::Value::from(s.as_str())),
            Self::Word(w) => write!(f, "`{w}`"),
            Self::End => f.write_str("the end of the input"),
        }
    }
}

/// Tokenizes `input`, ending with [`Tok::End`]. On error, returns the byte offset it is about.
pub(super) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, (FilterErrorKind, usize)> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let tok = match bytes[i] {
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b'"' => {
                let end =
                    string_end(bytes, start).ok_or((FilterErrorKind::UnterminatedString, start))?;
                let literal = &input[start..=end];
                i = end + 1;
                let decoded = serde_json::from_str::<String>(literal).map_err(|e| {
                    (
                        FilterErrorKind::InvalidString {
                            reason: strip_position(&e.to_string()),
                        },
                        start,
                    )
                })?;
                tokens.push(Token {
                    tok: Tok::Str(decoded),
                    start,
                });
                continue;
            }
            _ => {
                while i < bytes.len() && !is_delimiter(bytes[i]) {
                    i += 1;
                }
                tokens.push(Token {
                    tok: Tok::Word(&input[start..i]),
                    start,
                });
                continue;
            }
        };
        i += 1;
        tokens.push(Token { tok, start });
    }
    tokens.push(Token {
        tok: Tok::End,
        start: input.len(),
    });
    Ok(tokens)
}

/// Multi-byte UTF-8 sequences never contain ASCII bytes, so scanning bytes is safe.
fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

/// The index of the `"` closing the string that opens at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `serde_json` ends its messages with "at line 1 column N", a position within the literal that
/// would mislead next to ours.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}
