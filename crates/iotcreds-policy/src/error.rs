//! Policy errors, shaped like the ones IAM returns (`MalformedPolicyDocument`, `LimitExceeded`).

use std::fmt;

/// The AWS error code a [`PolicyError`] maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The document is not valid JSON or breaks the policy grammar (`MalformedPolicyDocument`).
    MalformedPolicyDocument,
    /// The document exceeds a size quota (`LimitExceeded`).
    LimitExceeded,
}

impl ErrorKind {
    /// The AWS error code, e.g. `MalformedPolicyDocument`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::MalformedPolicyDocument => "MalformedPolicyDocument",
            ErrorKind::LimitExceeded => "LimitExceeded",
        }
    }
}

/// A policy that could not be accepted.
///
/// `Display` gives an AWS-style message that names the statement (index and `Sid`) and the
/// element when the problem is inside a statement, for example
/// `MalformedPolicyDocument: Policy statement must contain actions. (Statement[1] "ReadOnly", element Action)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    kind: ErrorKind,
    message: String,
    statement: Option<usize>,
    sid: Option<String>,
    element: Option<String>,
}

impl PolicyError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PolicyError {
            kind: ErrorKind::MalformedPolicyDocument,
            message: message.into(),
            statement: None,
            sid: None,
            element: None,
        }
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        PolicyError {
            kind: ErrorKind::LimitExceeded,
            message: message.into(),
            statement: None,
            sid: None,
            element: None,
        }
    }

    pub(crate) fn in_element(mut self, element: &str) -> Self {
        if self.element.is_none() {
            self.element = Some(element.to_owned());
        }
        self
    }

    pub(crate) fn in_statement(mut self, index: usize, sid: Option<&str>) -> Self {
        self.statement = Some(index);
        self.sid = sid.map(str::to_owned);
        self
    }

    /// Which AWS error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The AWS error code (`MalformedPolicyDocument` or `LimitExceeded`).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The message without the code and location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Zero-based index of the offending statement, when the error is inside one.
    pub fn statement_index(&self) -> Option<usize> {
        self.statement
    }

    /// `Sid` of the offending statement, when it has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// The policy element (`Action`, `Condition`, ...) the error is about, when known.
    pub fn element(&self) -> Option<&str> {
        self.element.as_deref()
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)?;
        match (self.statement, &self.element) {
            (None, None) => Ok(()),
            (None, Some(element)) => write!(f, " (element {element})"),
            (Some(index), element) => {
                write!(f, " (Statement[{index}]")?;
                if let Some(sid) = &self.sid {
                    write!(f, " {sid:?}")?;
                }
                if let Some(element) = element {
                    write!(f, ", element {element}")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl std::error::Error for PolicyError {}
