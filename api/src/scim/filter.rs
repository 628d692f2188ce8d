//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a tree and evaluated against a
//! resource's JSON. Operators and attribute names are case-insensitive, strings
//! compare ignoring case (Roster's SCIM attributes are all `caseExact: false`),
//! and a multi-valued attribute matches when any of its values does. A filter is
//! bounded (length, nesting, terms) so a hostile one costs little to refuse.

use serde_json::Value;

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 2_000;
/// The deepest nesting of parentheses, `not` and `[...]` accepted.
pub const MAX_DEPTH: usize = 16;
/// The most comparisons one filter may hold.
pub const MAX_TERMS: usize = 64;

/// Why a filter was refused (SCIM's `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFilter(pub String);

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// less than
    Lt,
    /// greater or equal
    Ge,
    /// less or equal
    Le,
}

/// An attribute path: `name`, `name.sub`, or with a schema URI prefix (dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The attribute, lowercased.
    pub name: String,
    /// Its sub-attribute, lowercased.
    pub sub: Option<String>,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`
    Compare(AttrPath, Op, Value),
    /// `attr pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]` (optionally `.sub` after the bracket, as in
    /// `emails[type eq "work"].value eq "…"`, which is read as the bracket's
    /// filter `and` the comparison on the same value).
    ValuePath(AttrPath, Box<Filter>),
}

/// Parses `text`.
pub fn parse(text: &str) -> Result<Filter, InvalidFilter> {
    if text.len() > MAX_FILTER_BYTES {
        return Err(InvalidFilter(format!(
            "the filter is longer than {MAX_FILTER_BYTES} bytes"
        )));
    }
    let tokens = lex(text)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        terms: 0,
    };
    let filter = p.or()?;
    if p.at != p.tokens.len() {
        return Err(InvalidFilter(format!(
            "unexpected {} after the filter",
            p.tokens[p.at].describe()
        )));
    }
    Ok(filter)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Number(serde_json::Number),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("“{w}”"),
            Token::Str(s) => format!("the string “{s}”"),
            Token::Number(n) => format!("the number {n}"),
            Token::Open => "“(”".into(),
            Token::Close => "“)”".into(),
            Token::OpenBracket => "“[”".into(),
            Token::CloseBracket => "“]”".into(),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Token>, InvalidFilter> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                tokens.push(Token::Open);
            }
            ')' => {
                chars.next();
                tokens.push(Token::Close);
            }
            '[' => {
                chars.next();
                tokens.push(Token::OpenBracket);
            }
            ']' => {
                chars.next();
                tokens.push(Token::CloseBracket);
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e @ ('"' | '\\' | '/'))) => s.push(e),
                            Some((_, 'n')) => s.push('\n'),
                            Some((_, 't')) => s.push('\t'),
                            _ => return Err(InvalidFilter("a string has a bad escape".into())),
                        },
                        c => s.push(c),
                    }
                }
                if !closed {
                    return Err(InvalidFilter("a string is not closed".into()));
                }
                tokens.push(Token::Str(s));
            }
            _ => {
                let start = i;
                let mut end = i;
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                let word = &text[start..end];
                if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                    let n: serde_json::Number = word
                        .parse()
                        .map_err(|_| InvalidFilter(format!("“{word}” is not a number")))?;
                    tokens.push(Token::Number(n));
                } else {
                    tokens.push(Token::Word(word.to_owned()));
                }
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn deeper(&mut self) -> Result<(), InvalidFilter> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(InvalidFilter(format!(
                "the filter nests deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Filter, InvalidFilter> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, InvalidFilter> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, InvalidFilter> {
        if self.peek_word("not") {
            self.at += 1;
            if self.next() != Some(Token::Open) {
                return Err(InvalidFilter("“not” must be followed by “(”".into()));
            }
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::Close) {
                return Err(InvalidFilter("a “(” is not closed".into()));
            }
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::Close) {
                return Err(InvalidFilter("a “(” is not closed".into()));
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Filter, InvalidFilter> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(InvalidFilter(format!(
                "the filter holds more than {MAX_TERMS} comparisons"
            )));
        }
        let path = match self.next() {
            Some(Token::Word(w)) => attr_path(&w)?,
            Some(other) => {
                return Err(InvalidFilter(format!(
                    "expected an attribute, found {}",
                    other.describe()
                )))
            }
            None => return Err(InvalidFilter("the filter ends too early".into())),
        };
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.depth -= 1;
            if self.next() != Some(Token::CloseBracket) {
                return Err(InvalidFilter("a “[” is not closed".into()));
            }
            // `emails[type eq "work"].value eq "x"`: the lexer keeps `.value`
            // as the next word.
            if let Some(Token::Word(w)) = self.tokens.get(self.at) {
                if let Some(sub) = w.strip_prefix('.') {
                    let sub = sub.to_ascii_lowercase();
                    self.at += 1;
                    let inner_path = AttrPath {
                        name: sub,
                        sub: None,
                    };
                    let compared = self.operation(inner_path)?;
                    return Ok(Filter::ValuePath(
                        path,
                        Box::new(Filter::And(Box::new(inner), Box::new(compared))),
                    ));
                }
            }
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        self.operation(path)
    }

    fn operation(&mut self, path: AttrPath) -> Result<Filter, InvalidFilter> {
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            Some(other) => {
                return Err(InvalidFilter(format!(
                    "expected an operator, found {}",
                    other.describe()
                )))
            }
            None => return Err(InvalidFilter("an operator is missing".into())),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "lt" => Op::Lt,
            "ge" => Op::Ge,
            "le" => Op::Le,
            other => return Err(InvalidFilter(format!("“{other}” is not an operator"))),
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Number(n)) => Value::Number(n),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Value::Null,
            Some(other) => {
                return Err(InvalidFilter(format!(
                    "expected a value, found {}",
                    other.describe()
                )))
            }
            None => return Err(InvalidFilter("a value is missing".into())),
        };
        Ok(Filter::Compare(path, op, value))
    }
}

/// `urn:…:User:name.givenName` → `name` / `givenname`.
fn attr_path(word: &str) -> Result<AttrPath, InvalidFilter> {
    // A schema URI prefix ends at the last ':' (attribute names hold none).
    let plain = word.rsplit_once(':').map_or(word, |(_, a)| a);
    let mut parts = plain.splitn(2, '.');
    let name = parts.next().unwrap_or_default();
    let sub = parts.next();
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '$')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
    };
    if !valid(name) || sub.is_some_and(|s| !valid(s)) {
        return Err(InvalidFilter(format!("“{word}” is not an attribute path")));
    }
    Ok(AttrPath {
        name: name.to_ascii_lowercase(),
        sub: sub.map(str::to_ascii_lowercase),
    })
}

/// The values at `path` in `resource` (a multi-valued attribute gives each).
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = field(resource, &path.name) else {
        return Vec::new();
    };
    let items: Vec<&Value> = match top {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    match &path.sub {
        None => items,
        Some(sub) => items.into_iter().filter_map(|i| field(i, sub)).collect(),
    }
}

/// `object[name]`, ignoring case.
fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn compare(actual: &Value, op: Op, wanted: &Value) -> bool {
    match (actual, wanted) {
        (Value::String(a), Value::String(w)) => {
            let (a, w) = (a.to_lowercase(), w.to_lowercase());
            match op {
                Op::Eq => a == w,
                Op::Ne => a != w,
                Op::Co => a.contains(&w),
                Op::Sw => a.starts_with(&w),
                Op::Ew => a.ends_with(&w),
                Op::Gt => a > w,
                Op::Lt => a < w,
                Op::Ge => a >= w,
                Op::Le => a <= w,
            }
        }
        (Value::Bool(a), Value::Bool(w)) => match op {
            Op::Eq => a == w,
            Op::Ne => a != w,
            _ => false,
        },
        (Value::Number(a), Value::Number(w)) => {
            let (Some(a), Some(w)) = (a.as_f64(), w.as_f64()) else {
                return false;
            };
            match op {
                Op::Eq => a == w,
                Op::Ne => a != w,
                Op::Gt => a > w,
                Op::Lt => a < w,
                Op::Ge => a >= w,
                Op::Le => a <= w,
                _ => false,
            }
        }
        (_, Value::Null) => matches!(op, Op::Ne),
        _ => matches!(op, Op::Ne),
    }
}

/// Whether `resource` matches `filter`.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::Compare(path, op, wanted) => {
            let found = values_at(resource, path);
            match (op, wanted) {
                // `attr eq null` / `ne null`: absence.
                (Op::Eq, Value::Null) => found.iter().all(|v| v.is_null()),
                (Op::Ne, Value::Null) => found.iter().any(|v| !v.is_null()),
                (Op::Ne, _) => !found.iter().any(|v| compare(v, Op::Eq, wanted)),
                _ => found.iter().any(|v| compare(v, *op, wanted)),
            }
        }
        Filter::Present(path) => values_at(resource, path).iter().any(|v| match v {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            _ => true,
        }),
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(a) => !matches(a, resource),
        Filter::ValuePath(path, inner) => {
            let Some(top) = field(resource, &path.name) else {
                return false;
            };
            match top {
                Value::Array(items) => items.iter().any(|item| matches(inner, item)),
                item => matches(inner, item),
            }
        }
    }
}

/// The address a filter asks for when it is exactly `userName eq "…"`,
/// `emails.value eq "…"` or `emails[… ].value eq "…"` (alone): answered by one
/// indexed lookup instead of a scan.
pub fn wanted_address(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare(path, Op::Eq, Value::String(s))
            if (path.name == "username" && path.sub.is_none())
                || (path.name == "emails" && path.sub.as_deref() == Some("value")) =>
        {
            Some(s)
        }
        Filter::ValuePath(path, inner) if path.name == "emails" => match inner.as_ref() {
            Filter::And(condition, compared) => match (condition.as_ref(), compared.as_ref()) {
                (Filter::Compare(..), Filter::Compare(p, Op::Eq, Value::String(s)))
                    if p.name == "value" =>
                {
                    // The condition (e.g. `type eq "work"`) still has to hold:
                    // the caller checks the found resource against the whole filter.
                    Some(s)
                }
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "u1",
            "userName": "Ann@Example.com",
            "name": { "formatted": "Ann Lee" },
            "displayName": "Ann Lee",
            "active": true,
            "emails": [{ "value": "ann@example.com", "type": "work", "primary": true }],
            "groups": [{ "value": "admin", "display": "Admin" }]
        })
    }

    fn yes(f: &str) -> bool {
        matches(&parse(f).unwrap_or_else(|e| panic!("{f}: {e}")), &user())
    }

    #[test]
    fn the_filters_providers_send_match_as_rfc_7644_says() {
        assert!(
            yes(r#"userName eq "ann@example.com""#),
            "case-insensitive value"
        );
        assert!(
            yes(r#"USERNAME Eq "ANN@EXAMPLE.COM""#),
            "case-insensitive names and operators"
        );
        assert!(yes(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ann@example.com""#
        ));
        assert!(yes(r#"emails[type eq "work"].value eq "ann@example.com""#));
        assert!(!yes(r#"emails[type eq "home"].value eq "ann@example.com""#));
        assert!(yes(r#"emails[type eq "work" and primary eq true]"#));
        assert!(yes(r#"emails.value co "example""#));
        assert!(yes(r#"name.formatted sw "ann" and active eq true"#));
        assert!(yes(r#"userName eq "x" or displayName ew "lee""#));
        assert!(yes(r#"not (userName eq "x")"#));
        assert!(yes(r#"(userName eq "x" or userName eq "y") or active pr"#));
        assert!(!yes(r#"externalId pr"#));
        assert!(yes(r#"externalId eq null"#));
        assert!(!yes(r#"active eq false"#));
        assert!(yes(r#"groups.value eq "admin""#));
        assert!(yes(r#"userName ne "bob@example.com""#));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        // false and false or true → true (not: false and (false or true)).
        assert!(yes(
            r#"userName eq "x" and userName eq "y" or active eq true"#
        ));
        assert!(!yes(
            r#"userName eq "x" and (userName eq "y" or active eq true)"#
        ));
    }

    #[test]
    fn malformed_and_oversized_filters_are_refused_with_a_reason() {
        for bad in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"(userName eq "a""#,
            r#"emails[type eq "work""#,
            r#"userName eq "a" and"#,
            r#"userName eq "a" )"#,
            r#"not userName eq "a""#,
            r#"1abc eq "a""#,
            r#"userName eq bare"#,
            r#"userName eq "\q""#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let deep = format!("{}userName eq \"a\"{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().0.contains("deeper"));
        let many = vec![r#"userName eq "a""#; 80].join(" or ");
        assert!(parse(&many).unwrap_err().0.contains("comparisons"));
        let long = format!(r#"userName eq "{}""#, "a".repeat(3000));
        assert!(parse(&long).unwrap_err().0.contains("longer"));
    }

    #[test]
    fn an_address_lookup_is_recognised_only_when_it_is_the_whole_filter() {
        let f = |t: &str| parse(t).expect("parses");
        assert_eq!(
            wanted_address(&f(r#"userName eq "a@b.io""#)),
            Some("a@b.io")
        );
        assert_eq!(
            wanted_address(&f(r#"emails.value eq "a@b.io""#)),
            Some("a@b.io")
        );
        assert_eq!(
            wanted_address(&f(r#"emails[type eq "work"].value eq "a@b.io""#)),
            Some("a@b.io")
        );
        assert_eq!(
            wanted_address(&f(r#"userName eq "a" or userName eq "b""#)),
            None
        );
        assert_eq!(wanted_address(&f(r#"userName co "a""#)), None);
    }
}
