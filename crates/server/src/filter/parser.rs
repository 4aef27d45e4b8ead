//! Recursive descent over the tokens, by the grammar of RFC 7644 §3.4.2.2 (Figure 1) and §3.5.2:
//!
//! ```text
//! filter  = and *("or" and)            ; `or` binds loosest
//! and     = unary *("and" unary)
//! unary   = "not" "(" filter ")" / "(" filter ")" / attrPath "[" filter "]"
//!         / attrPath "pr" / attrPath compareOp compValue
//! path    = attrPath / attrPath "[" filter "]" ["." ATTRNAME]   ; PATCH only
//! ```
//!
//! Inside `[…]` the filter names sub-attributes alone and holds no value path of its own (RFC
//! 7644 errata 4690 and 7322); `not` may be followed by a space before its `(` (errata 7319).
//!
//! Keywords are matched ASCII case-insensitively. Only groups recurse, and `enter` refuses a
//! group deeper than `max_depth` before recursing, so no input can exhaust the stack.

use super::lexer::{Tok, Token, tokenize};
use super::{
    AttrPath, CompValue, CompareOp, Filter, FilterError, FilterErrorKind, Limits, PatchPath,
};

const INVALID_FILTER: &str = "invalidFilter";
const INVALID_PATH: &str = "invalidPath";

pub(super) fn parse_filter(input: &str, limits: &Limits) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(input, limits, INVALID_FILTER)?;
    let (filter, _) = parser.or_expr(Scope::Top)?;
    parser.expect_end("`and`, `or` or the end of the filter")?;
    Ok(filter)
}

pub(super) fn parse_patch_path(input: &str, limits: &Limits) -> Result<PatchPath, FilterError> {
    let mut parser = Parser::new(input, limits, INVALID_PATH)?;
    let attr = parser.attr_path_token()?;
    if !matches!(parser.peek(), Tok::LBracket) {
        parser.expect_end("'[' or the end of the path")?;
        return Ok(PatchPath::Attr(attr));
    }
    let (filter, _) = parser.value_filter(&attr, Scope::Top)?;
    let sub_attr = match parser.peek() {
        Tok::Word(word) if word.starts_with('.') => {
            let (word, start) = (*word, parser.start());
            let name = &word[1..];
            if !is_attr_name(name) {
                return Err(parser.error(invalid_path(word, NAME_RULE), start));
            }
            parser.pos += 1;
            Some(name.to_owned())
        }
        _ => None,
    };
    parser.expect_end("'.' and a sub-attribute, or the end of the path")?;
    Ok(PatchPath::ValuePath {
        attr,
        filter,
        sub_attr,
    })
}

#[cfg(test)]
pub(super) fn parse_attr_path(input: &str, limits: &Limits) -> Result<AttrPath, FilterError> {
    let mut parser = Parser::new(input, limits, INVALID_PATH)?;
    let path = parser.attr_path_token()?;
    parser.expect_end("the end of the attribute path")?;
    Ok(path)
}

/// Where a filter stands: at the top, or inside the `[…]` of a value path, where paths name
/// sub-attributes of the value path's attribute.
#[derive(Clone, Copy)]
enum Scope<'p> {
    Top,
    Inner(&'p AttrPath),
}

/// A parsed filter with the height of its tree.
type Node = (Filter, usize);

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    max_depth: usize,
    /// How many groups enclose the current token.
    nesting: usize,
    /// The `scimType` of errors raised now: PATCH paths switch to `invalidFilter` inside `[…]`.
    scim_type: &'static str,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, limits: &Limits, scim_type: &'static str) -> Result<Self, FilterError> {
        // Counting characters is linear, but only done past the cheap byte-length test.
        if input.len() > limits.max_len {
            let len = input.chars().count();
            if len > limits.max_len {
                let kind = FilterErrorKind::TooLong {
                    len,
                    max: limits.max_len,
                };
                return Err(FilterError::new(kind, None, scim_type));
            }
        }
        let tokens = tokenize(input).map_err(|(kind, byte)| {
            FilterError::new(kind, Some(char_offset(input, byte)), scim_type)
        })?;
        if tokens.len() == 1 {
            return Err(FilterError::new(FilterErrorKind::Empty, None, scim_type));
        }
        Ok(Self {
            input,
            tokens,
            pos: 0,
            max_depth: limits.max_depth,
            nesting: 0,
            scim_type,
        })
    }

    fn peek(&self) -> &Tok<'a> {
        &self.tokens[self.pos].tok
    }

    fn peek_at(&self, ahead: usize) -> &Tok<'a> {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.pos + ahead).min(last)].tok
    }

    fn start(&self) -> usize {
        self.tokens[self.pos].start
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Tok::Word(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn error(&self, kind: FilterErrorKind, byte: usize) -> FilterError {
        FilterError::new(kind, Some(char_offset(self.input, byte)), self.scim_type)
    }

    fn unexpected(&self, expected: &'static str) -> FilterError {
        let kind = FilterErrorKind::Unexpected {
            found: self.peek().to_string(),
            expected,
        };
        self.error(kind, self.start())
    }

    fn expect_end(&self, expected: &'static str) -> Result<(), FilterError> {
        match self.peek() {
            Tok::End => Ok(()),
            _ => Err(self.unexpected(expected)),
        }
    }

    /// Steps into a group opened at byte `start`, unless that nests too deep.
    fn enter(&mut self, start: usize) -> Result<(), FilterError> {
        self.nesting += 1;
        if self.nesting > self.max_depth {
            let kind = FilterErrorKind::TooDeep {
                max: self.max_depth,
            };
            return Err(self.error(kind, start));
        }
        Ok(())
    }

    /// Consumes the `close` of a group opened by `open` at byte `start`.
    fn close(&mut self, open: char, start: usize) -> Result<(), FilterError> {
        let closed = match self.peek() {
            Tok::RParen => open == '(',
            Tok::RBracket => open == '[',
            Tok::End => return Err(self.error(FilterErrorKind::Unclosed { open }, start)),
            _ => false,
        };
        if !closed {
            return Err(self.unexpected(if open == '(' {
                "`and`, `or` or ')'"
            } else {
                "`and`, `or` or ']'"
            }));
        }
        self.pos += 1;
        self.nesting -= 1;
        Ok(())
    }

    /// Refuses a tree higher than `max_depth`; `start` is where its text begins.
    fn check_height(&self, node: Node, start: usize) -> Result<Node, FilterError> {
        if node.1 > self.max_depth {
            let kind = FilterErrorKind::TooDeep {
                max: self.max_depth,
            };
            return Err(self.error(kind, start));
        }
        Ok(node)
    }

    fn or_expr(&mut self, scope: Scope<'_>) -> Result<Node, FilterError> {
        let start = self.start();
        let mut terms = vec![self.and_expr(scope)?];
        while self.peek_keyword("or") {
            self.pos += 1;
            terms.push(self.and_expr(scope)?);
        }
        self.check_height(balance(terms, Filter::Or), start)
    }

    fn and_expr(&mut self, scope: Scope<'_>) -> Result<Node, FilterError> {
        let start = self.start();
        let mut terms = vec![self.unary(scope)?];
        while self.peek_keyword("and") {
            self.pos += 1;
            terms.push(self.unary(scope)?);
        }
        self.check_height(balance(terms, Filter::And), start)
    }

    fn unary(&mut self, scope: Scope<'_>) -> Result<Node, FilterError> {
        let start = self.start();
        match self.peek() {
            Tok::LParen => {
                self.enter(start)?;
                self.pos += 1;
                let node = self.or_expr(scope)?;
                self.close('(', start)?;
                Ok(node)
            }
            // `not` is also a legal attribute name: it negates only when a '(' follows.
            Tok::Word(word) if word.eq_ignore_ascii_case("not") && self.negates()? => {
                let paren = self.tokens[self.pos + 1].start;
                self.enter(start)?;
                self.pos += 2;
                let (inner, height) = self.or_expr(scope)?;
                self.close('(', paren)?;
                self.check_height((Filter::Not(Box::new(inner)), height + 1), start)
            }
            Tok::Word(_) => self.attr_expr(scope),
            other => {
                let kind = FilterErrorKind::ExpectedAttrPath {
                    found: other.to_string(),
                };
                Err(self.error(kind, start))
            }
        }
    }

    /// Whether the `not` at the current token negates (true) or names an attribute (false).
    fn negates(&self) -> Result<bool, FilterError> {
        match self.peek_at(1) {
            Tok::LParen => Ok(true),
            Tok::LBracket => Ok(false),
            Tok::Word(word)
                if word.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(word).is_some() =>
            {
                Ok(false)
            }
            _ => Err(self.error(FilterErrorKind::NotWithoutParens, self.start())),
        }
    }

    /// `attrPath "[" filter "]"`, `attrPath "pr"` or `attrPath compareOp compValue`.
    fn attr_expr(&mut self, scope: Scope<'_>) -> Result<Node, FilterError> {
        let path_start = self.start();
        let path = self.attr_path_token()?;
        if let Scope::Inner(outer) = scope
            && (path.urn.is_some() || path.sub_attr.is_some())
        {
            let reason = if path.urn.is_some() {
                "inside '[…]' a path names a sub-attribute alone, without a schema URN"
            } else {
                "inside '[…]' a path names a sub-attribute alone, without '.'"
            };
            let kind = FilterErrorKind::InvalidAttrPath {
                path: format!("{path} (in {outer}[…])"),
                reason,
            };
            return Err(self.error(kind, path_start));
        }
        match self.peek() {
            Tok::LBracket => {
                let (filter, height) = self.value_filter(&path, scope)?;
                let node = (Filter::ValuePath(path, Box::new(filter)), height + 1);
                self.check_height(node, path_start)
            }
            Tok::Word(word) if word.eq_ignore_ascii_case("pr") => {
                self.pos += 1;
                Ok((Filter::Present(path), 1))
            }
            Tok::Word(word) => match CompareOp::from_keyword(word) {
                Some(op) => {
                    self.pos += 1;
                    let value = self.comp_value()?;
                    Ok((Filter::Compare(path, op, value), 1))
                }
                None => Err(self.unknown_operator()),
            },
            _ => Err(self.unknown_operator()),
        }
    }

    fn unknown_operator(&self) -> FilterError {
        let kind = FilterErrorKind::UnknownOperator {
            found: self.peek().to_string(),
        };
        self.error(kind, self.start())
    }

    /// The `"[" filter "]"` after `path`. Errors from the `[` to the `]`, a missing `]` included,
    /// are `invalidFilter`.
    fn value_filter(&mut self, path: &AttrPath, scope: Scope<'_>) -> Result<Node, FilterError> {
        let start = self.start();
        if matches!(scope, Scope::Inner(_)) {
            return Err(self.error(FilterErrorKind::NestedValuePath, start));
        }
        if path.sub_attr.is_some() {
            let kind = invalid_path(
                &path.to_string(),
                "a value path's attribute cannot have a sub-attribute",
            );
            return Err(self.error(kind, start));
        }
        self.enter(start)?;
        self.pos += 1;
        let outer = std::mem::replace(&mut self.scim_type, INVALID_FILTER);
        let node = self.or_expr(Scope::Inner(path))?;
        self.close('[', start)?;
        self.scim_type = outer;
        Ok(node)
    }

    /// The current token as an attribute path.
    fn attr_path_token(&mut self) -> Result<AttrPath, FilterError> {
        let start = self.start();
        let Tok::Word(word) = self.peek() else {
            let kind = FilterErrorKind::ExpectedAttrPath {
                found: self.peek().to_string(),
            };
            return Err(self.error(kind, start));
        };
        let path = split_attr_path(word).map_err(|kind| self.error(kind, start))?;
        self.pos += 1;
        Ok(path)
    }

    /// `compValue = false / null / true / number / string`, keywords in any case.
    fn comp_value(&mut self) -> Result<CompValue, FilterError> {
        let start = self.start();
        let value = match &mut self.tokens[self.pos].tok {
            Tok::Str(s) => CompValue::String(std::mem::take(s)),
            Tok::Word(word) if word.eq_ignore_ascii_case("true") => CompValue::Bool(true),
            Tok::Word(word) if word.eq_ignore_ascii_case("false") => CompValue::Bool(false),
            Tok::Word(word) if word.eq_ignore_ascii_case("null") => CompValue::Null,
            Tok::Word(word) if is_json_number(word) => match serde_json::from_str(word) {
                Ok(number) => CompValue::Number(number),
                Err(_) => return Err(self.expected_value(start)),
            },
            _ => return Err(self.expected_value(start)),
        };
        self.pos += 1;
        Ok(value)
    }

    fn expected_value(&self, start: usize) -> FilterError {
        let kind = FilterErrorKind::ExpectedValue {
            found: self.peek().to_string(),
        };
        self.error(kind, start)
    }
}

/// Builds `terms` joined by `join` into a balanced tree, with its height.
fn balance(mut terms: Vec<Node>, join: fn(Box<Filter>, Box<Filter>) -> Filter) -> Node {
    if terms.len() == 1 {
        return terms.pop().expect("one term");
    }
    let right = terms.split_off(terms.len() / 2);
    let (left, left_height) = balance(terms, join);
    let (right, right_height) = balance(right, join);
    (
        join(Box::new(left), Box::new(right)),
        left_height.max(right_height) + 1,
    )
}

const NAME_RULE: &str =
    "names start with a letter and hold only letters, digits, '-' and '_' (or are `$ref`)";

fn invalid_path(path: &str, reason: &'static str) -> FilterErrorKind {
    FilterErrorKind::InvalidAttrPath {
        path: path.to_owned(),
        reason,
    }
}

/// `[URI ":"] ATTRNAME ["." ATTRNAME]`: the URN runs to the last ':', so it may hold '.' (`2.0`)
/// and ':' of its own.
fn split_attr_path(word: &str) -> Result<AttrPath, FilterErrorKind> {
    let (urn, rest) = match word.rfind(':') {
        Some(colon) => (Some(&word[..colon]), &word[colon + 1..]),
        None => (None, word),
    };
    if urn.is_some_and(str::is_empty) {
        return Err(invalid_path(word, "the schema URN before ':' is empty"));
    }
    if rest.is_empty() {
        return Err(invalid_path(
            word,
            "no attribute name follows the schema URN",
        ));
    }
    let (attr, sub_attr) = match rest.split_once('.') {
        Some((attr, sub_attr)) => (attr, Some(sub_attr)),
        None => (rest, None),
    };
    if sub_attr.is_some_and(|sub| sub.contains('.')) {
        return Err(invalid_path(word, "a path has at most one sub-attribute"));
    }
    if !is_attr_name(attr) || sub_attr.is_some_and(|sub| !is_attr_name(sub)) {
        return Err(invalid_path(word, NAME_RULE));
    }
    Ok(AttrPath {
        urn: urn.map(str::to_owned),
        attr: attr.to_owned(),
        sub_attr: sub_attr.map(str::to_owned),
    })
}

/// `ATTRNAME = ALPHA *(nameChar)` of RFC 7643 §2.1, plus the `$ref` sub-attribute it uses.
fn is_attr_name(name: &str) -> bool {
    let name = name.strip_prefix('$').unwrap_or(name);
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `number` of RFC 8259 §6: `[ "-" ] int [ frac ] [ exp ]`.
fn is_json_number(word: &str) -> bool {
    let b = word.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - from
    };
    let int_start = i;
    match digits(&mut i) {
        0 => return false,
        n if n > 1 && b[int_start] == b'0' => return false,
        _ => {}
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Characters before byte `byte`: what error messages count in.
fn char_offset(input: &str, byte: usize) -> usize {
    input[..byte].chars().count()
}
