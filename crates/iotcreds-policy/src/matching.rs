//! Wildcard and ARN matching, with policy variables resolved without allocation.
//!
//! A policy string is compiled once into a template: literal runs, `*`, `?` and policy
//! variables (`${key}` / `${key, 'default'}`; the escapes `${*}`, `${?}`, `${$}` are literal
//! characters). At evaluation time the variables are replaced by context values into a small
//! stack buffer of slices, and the result is matched against the request string. Characters
//! that come from a variable value are always literal: a user named `*` does not become a
//! wildcard.
//!
//! ARN matching ([`arn_match`]) splits both sides at their first five colons. Each of the first
//! five segments is matched on its own, so a wildcard there never crosses a `:`; the sixth
//! segment (the resource part) is matched whole, so `*` there spans `/` and `:`. When the
//! pattern has fewer than six segments and its last one ends in `*`, that `*` may expand
//! across the remaining colons ("If the `*` wildcard is the last character of a resource ARN
//! segment, it can expand to match beyond the colon boundaries",
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>).

use crate::context::Context;

/// One compiled token of a policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    Star,
    Quest,
    Var(Var),
}

/// A policy variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    /// The key as written, for explanations.
    pub(crate) key: Box<str>,
    /// The key lower-cased, for lookups.
    pub(crate) lower: Box<str>,
    pub(crate) default: Option<Box<str>>,
}

/// How a string is read when compiled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Syntax {
    /// `${...}` is a variable (policy version 2012-10-17, and only where AWS allows one).
    pub(crate) variables: bool,
    /// `*` and `?` are wildcards.
    pub(crate) wildcards: bool,
}

/// A compiled policy string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    toks: Vec<Tok>,
    shape: Shape,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    /// No variable, no wildcard.
    Literal(Box<str>),
    /// Exactly `*`.
    Any,
    /// A literal prefix followed by one `*`.
    Prefix(Box<str>),
    General,
}

/// A resolved token: a slice of the policy or of a context value, or a wildcard.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    Lit(&'a str),
    Star,
    Quest,
}

const INLINE: usize = 16;

/// Resolved tokens, on the stack unless there are many.
pub(crate) struct SegBuf<'a> {
    inline: [Seg<'a>; INLINE],
    len: usize,
    spill: Vec<Seg<'a>>,
}

impl<'a> SegBuf<'a> {
    pub(crate) fn new() -> Self {
        SegBuf {
            inline: [Seg::Star; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, seg: Seg<'a>) {
        if self.len < INLINE {
            self.inline[self.len] = seg;
            self.len += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(seg);
        }
    }

    pub(crate) fn as_slice(&self) -> &[Seg<'a>] {
        if self.spill.is_empty() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }
}

impl Template {
    /// Compile `input` with the given syntax.
    pub(crate) fn compile(input: &str, syntax: Syntax) -> Template {
        Template::from_toks(tokenize(input, syntax))
    }

    fn from_toks(toks: Vec<Tok>) -> Template {
        let shape = match toks.as_slice() {
            [] => Shape::Literal("".into()),
            [Tok::Lit(s)] => Shape::Literal(s.clone()),
            [Tok::Star] => Shape::Any,
            [Tok::Lit(s), Tok::Star] => Shape::Prefix(s.clone()),
            _ => Shape::General,
        };
        Template { toks, shape }
    }

    /// Whether the template is exactly `*`.
    pub(crate) fn is_any(&self) -> bool {
        matches!(self.shape, Shape::Any)
    }

    /// Whether the last token is a wildcard `*`.
    fn ends_with_star(&self) -> bool {
        matches!(self.toks.last(), Some(Tok::Star))
    }

    /// Variables referenced by this template.
    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.toks.iter().filter_map(|t| match t {
            Tok::Var(v) => Some(v),
            _ => None,
        })
    }

    /// Resolve variables into `out`. Returns `false` (and reports the key) when a variable has
    /// no value and no default: the element then matches nothing.
    pub(crate) fn resolve<'a>(
        &'a self,
        ctx: &'a Context,
        out: &mut SegBuf<'a>,
        missing: &mut dyn FnMut(&'a str),
    ) -> bool {
        let mut ok = true;
        for tok in &self.toks {
            match tok {
                Tok::Lit(s) => out.push(Seg::Lit(s)),
                Tok::Star => out.push(Seg::Star),
                Tok::Quest => out.push(Seg::Quest),
                Tok::Var(v) => match ctx.get_lower(&v.lower).and_then(|c| c.as_single()) {
                    Some(value) => out.push(Seg::Lit(value)),
                    None => match &v.default {
                        Some(d) => out.push(Seg::Lit(d)),
                        None => {
                            missing(&v.key);
                            ok = false;
                        }
                    },
                },
            }
        }
        ok
    }

    /// Match `text`; `None` when a variable could not be resolved.
    #[inline]
    pub(crate) fn matches(
        &self,
        text: &str,
        case: Case,
        ctx: &Context,
        missing: &mut dyn FnMut(&str),
    ) -> Option<bool> {
        match &self.shape {
            Shape::Any => Some(true),
            Shape::Literal(s) => Some(case.eq(s, text)),
            Shape::Prefix(p) if !matches!(case, Case::Unicode) => Some(
                text.len() >= p.len() && case.eq_bytes(&text.as_bytes()[..p.len()], p.as_bytes()),
            ),
            _ => self.matches_general(text, case, ctx, missing),
        }
    }

    /// The slow path: resolve variables into a stack buffer, then glob. Kept out of line so
    /// that the literal fast paths above stay small.
    #[inline(never)]
    fn matches_general(
        &self,
        text: &str,
        case: Case,
        ctx: &Context,
        missing: &mut dyn FnMut(&str),
    ) -> Option<bool> {
        let mut buf = SegBuf::new();
        let mut report = |k: &str| missing(k);
        if !self.resolve(ctx, &mut buf, &mut report) {
            return None;
        }
        Some(match_segs(buf.as_slice(), text, case))
    }
}

/// Case handling of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Case {
    Sensitive,
    /// ASCII case folding (action names).
    AsciiInsensitive,
    /// Unicode lower-case folding (`StringEqualsIgnoreCase`); wildcards are not used with it.
    Unicode,
}

impl Case {
    fn eq(self, a: &str, b: &str) -> bool {
        match self {
            Case::Sensitive => a == b,
            Case::AsciiInsensitive => a.eq_ignore_ascii_case(b),
            Case::Unicode => a
                .chars()
                .flat_map(char::to_lowercase)
                .eq(b.chars().flat_map(char::to_lowercase)),
        }
    }

    fn eq_bytes(self, a: &[u8], b: &[u8]) -> bool {
        match self {
            Case::Sensitive => a == b,
            _ => a.eq_ignore_ascii_case(b),
        }
    }
}

/// Match resolved tokens against `text`.
pub(crate) fn match_segs(segs: &[Seg<'_>], text: &str, case: Case) -> bool {
    if case == Case::Unicode {
        // Used only without wildcards: compare the concatenation, folding case.
        let pattern = segs.iter().flat_map(|s| match s {
            Seg::Lit(l) => l.chars(),
            Seg::Star => "*".chars(),
            Seg::Quest => "?".chars(),
        });
        return pattern
            .flat_map(char::to_lowercase)
            .eq(text.chars().flat_map(char::to_lowercase));
    }
    glob(segs, text.as_bytes(), case)
}

/// Width of the UTF-8 sequence that starts with `b`.
fn utf8_width(b: u8) -> usize {
    match b {
        0x00..=0xBF => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Iterative wildcard matching with backtracking to the last `*` (linear in practice,
/// O(n·m) at worst). `?` consumes one character; `*` extends one character at a time, so
/// a match never splits a UTF-8 sequence.
fn glob(segs: &[Seg<'_>], text: &[u8], case: Case) -> bool {
    let mut si = 0;
    let mut ti = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        if let Some(seg) = segs.get(si) {
            match *seg {
                Seg::Star => {
                    star = Some((si + 1, ti));
                    si += 1;
                    continue;
                }
                Seg::Quest => {
                    if ti < text.len() {
                        ti = (ti + utf8_width(text[ti])).min(text.len());
                        si += 1;
                        continue;
                    }
                }
                Seg::Lit(lit) => {
                    let lit = lit.as_bytes();
                    if text.len() - ti >= lit.len() && case.eq_bytes(&text[ti..ti + lit.len()], lit)
                    {
                        ti += lit.len();
                        si += 1;
                        continue;
                    }
                }
            }
        } else if ti == text.len() {
            return true;
        }
        match star {
            Some((resume, from)) if from < text.len() => {
                let next = (from + utf8_width(text[from])).min(text.len());
                star = Some((resume, next));
                si = resume;
                ti = next;
            }
            _ => return false,
        }
    }
}

/// Split a policy string into tokens.
pub(crate) fn tokenize(input: &str, syntax: Syntax) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut lit = String::new();
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if syntax.variables
            && rest.starts_with("${")
            && let Some((var, consumed)) = parse_variable(rest)
        {
            match var {
                VarOrChar::Char(ch) => lit.push(ch),
                VarOrChar::Var(v) => {
                    flush(&mut toks, &mut lit);
                    toks.push(Tok::Var(v));
                }
            }
            rest = &rest[consumed..];
            continue;
        }
        if syntax.wildcards && (c == '*' || c == '?') {
            flush(&mut toks, &mut lit);
            toks.push(if c == '*' { Tok::Star } else { Tok::Quest });
        } else {
            lit.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    flush(&mut toks, &mut lit);
    toks
}

fn flush(toks: &mut Vec<Tok>, lit: &mut String) {
    if !lit.is_empty() {
        toks.push(Tok::Lit(std::mem::take(lit).into_boxed_str()));
    }
}

enum VarOrChar {
    Var(Var),
    Char(char),
}

/// Parse `${...}` at the start of `s`. A malformed reference (no closing brace, empty key,
/// unquoted default) is not a variable and stays literal text.
fn parse_variable(s: &str) -> Option<(VarOrChar, usize)> {
    let body_start = 2;
    let close = s[body_start..].find('}')? + body_start;
    let body = &s[body_start..close];
    let consumed = close + 1;
    match body {
        "*" => return Some((VarOrChar::Char('*'), consumed)),
        "?" => return Some((VarOrChar::Char('?'), consumed)),
        "$" => return Some((VarOrChar::Char('$'), consumed)),
        _ => {}
    }
    let (key, default) = match body.split_once(',') {
        None => (body.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let quoted = default.len() >= 2 && default.starts_with('\'') && default.ends_with('\'');
            if !quoted {
                return None;
            }
            (key.trim(), Some(&default[1..default.len() - 1]))
        }
    };
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((
        VarOrChar::Var(Var {
            key: key.into(),
            lower: key.to_ascii_lowercase().into(),
            default: default.map(Into::into),
        }),
        consumed,
    ))
}

/// A compiled ARN pattern: one template per colon-separated segment (at most six).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern {
    segments: Vec<Template>,
    /// The whole pattern is `*`.
    any: bool,
    /// When the pattern has six segments and the first five are literal: those five joined
    /// with their colons (e.g. `arn:aws:s3:::`). A value matches only if it starts with this
    /// head, and then its rest is exactly its sixth segment: one comparison instead of five.
    literal_head: Option<Box<str>>,
}

impl ArnPattern {
    pub(crate) fn compile(input: &str, syntax: Syntax) -> ArnPattern {
        let toks = tokenize(input, syntax);
        let mut segments: Vec<Vec<Tok>> = vec![Vec::new()];
        for tok in toks {
            match tok {
                Tok::Lit(s) if segments.len() < 6 && s.contains(':') => {
                    let mut parts = s.split(':');
                    if let Some(first) = parts.next() {
                        push_lit(segments.last_mut(), first);
                    }
                    for part in parts {
                        if segments.len() < 6 {
                            segments.push(Vec::new());
                            push_lit(segments.last_mut(), part);
                        } else {
                            push_lit(segments.last_mut(), ":");
                            push_lit(segments.last_mut(), part);
                        }
                    }
                }
                other => {
                    if let Some(seg) = segments.last_mut() {
                        seg.push(other);
                    }
                }
            }
        }
        let segments: Vec<Template> = segments
            .into_iter()
            .map(merge_lits)
            .map(Template::from_toks)
            .collect();
        let any = segments.len() == 1 && segments[0].is_any();
        let literal_head = if segments.len() == 6 {
            let mut head = String::new();
            segments[..5]
                .iter()
                .all(|t| match &t.shape {
                    Shape::Literal(s) => {
                        head.push_str(s);
                        head.push(':');
                        true
                    }
                    _ => false,
                })
                .then(|| head.into_boxed_str())
        } else {
            None
        };
        ArnPattern {
            segments,
            any,
            literal_head,
        }
    }

    /// Variables referenced by the pattern.
    pub(crate) fn vars(&self) -> impl Iterator<Item = &Var> {
        self.segments.iter().flat_map(Template::vars)
    }

    /// Match an ARN; `None` when a variable could not be resolved.
    pub(crate) fn matches(
        &self,
        value: &str,
        ctx: &Context,
        missing: &mut dyn FnMut(&str),
    ) -> Option<bool> {
        if self.any {
            return Some(true);
        }
        if let (Some(head), Some(last)) = (&self.literal_head, self.segments.last()) {
            return match value.strip_prefix(&**head) {
                Some(rest) => last.matches(rest, Case::Sensitive, ctx, missing),
                None => Some(false),
            };
        }
        let (parts, count) = split_arn(value);
        let n = self.segments.len();
        let mut unresolved = false;
        let mut check = |template: &Template, text: &str| -> bool {
            match template.matches(text, Case::Sensitive, ctx, missing) {
                Some(m) => m,
                None => {
                    unresolved = true;
                    false
                }
            }
        };
        let matched = if count == n {
            self.segments
                .iter()
                .zip(parts.iter())
                .all(|(t, p)| check(t, p))
        } else if count > n && self.segments[n - 1].ends_with_star() {
            // The trailing `*` of a short pattern spans the remaining segments.
            let head_ok = self.segments[..n - 1]
                .iter()
                .zip(parts.iter())
                .all(|(t, p)| check(t, p));
            head_ok && {
                let offset = part_offset(value, n - 1);
                check(&self.segments[n - 1], &value[offset..])
            }
        } else {
            false
        };
        if unresolved { None } else { Some(matched) }
    }
}

fn push_lit(seg: Option<&mut Vec<Tok>>, s: &str) {
    if let Some(seg) = seg
        && !s.is_empty()
    {
        seg.push(Tok::Lit(s.into()));
    }
}

fn merge_lits(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for tok in toks {
        if let (Some(Tok::Lit(prev)), Tok::Lit(next)) = (out.last_mut(), &tok) {
            let mut joined = String::with_capacity(prev.len() + next.len());
            joined.push_str(prev);
            joined.push_str(next);
            *prev = joined.into_boxed_str();
            continue;
        }
        out.push(tok);
    }
    out
}

/// Split at the first five colons: up to six parts, the last keeping any further colons.
fn split_arn(value: &str) -> ([&str; 6], usize) {
    let mut parts = [""; 6];
    let mut count = 0;
    let mut rest = value;
    while count < 5 {
        match rest.find(':') {
            Some(i) => {
                parts[count] = &rest[..i];
                rest = &rest[i + 1..];
                count += 1;
            }
            None => break,
        }
    }
    parts[count] = rest;
    (parts, count + 1)
}

/// Byte offset where part `index` of `value` starts.
fn part_offset(value: &str, index: usize) -> usize {
    value
        .match_indices(':')
        .nth(index.wrapping_sub(1))
        .map_or(0, |(i, _)| if index == 0 { 0 } else { i + 1 })
}

const PLAIN: Syntax = Syntax {
    variables: false,
    wildcards: true,
};

/// Case-sensitive wildcard match: `*` is any run of characters, `?` any one character.
/// No policy variables. This is the `StringLike` comparison.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let template = Template::compile(pattern, PLAIN);
    template
        .matches(text, Case::Sensitive, &Context::new(), &mut |_| {})
        .unwrap_or(false)
}

/// Wildcard match ignoring ASCII case, as for action names.
pub fn wildcard_match_ignore_ascii_case(pattern: &str, text: &str) -> bool {
    let template = Template::compile(pattern, PLAIN);
    template
        .matches(text, Case::AsciiInsensitive, &Context::new(), &mut |_| {})
        .unwrap_or(false)
}

/// Segment-aware ARN match, as for the `Resource` element and `ArnLike` (see module docs).
pub fn arn_match(pattern: &str, arn: &str) -> bool {
    ArnPattern::compile(pattern, PLAIN)
        .matches(arn, &Context::new(), &mut |_| {})
        .unwrap_or(false)
}
