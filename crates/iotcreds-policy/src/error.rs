//! Policy errors, shaped like the ones IAM returns (`MalformedPolicyDocument`, `LimitExceeded`).
//!
//! An error carries two texts: [`PolicyError::message`], the short wording AWS answers with
//! (IAM's `Syntax errors in policy.`, `Policy statement must contain actions.`, …, or AWS IoT's
//! `Policy document is Malformed: …` for [`crate::Target::IotPolicy`]), which the HTTP edges
//! send to clients; and [`PolicyError::detail`], our explanation of what exactly is wrong, which
//! goes to the audit line and to `iotcreds policy simulate`. `Display` shows both and the
//! statement and element the problem is in.

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

/// IAM's own `MalformedPolicyDocument` messages, word for word. Where each was observed is
/// listed beside the table-driven test that checks it (`tests/kat/validation.json`).
pub(crate) mod iam {
    /// Any structural fault: not JSON, unknown or misplaced element, wrong JSON type, unknown
    /// condition operator, `Version` other than the two dates, no `Statement`.
    pub(crate) const SYNTAX: &str = "Syntax errors in policy.";
    /// A customer managed policy without `"Version": "2012-10-17"`.
    pub(crate) const VERSION: &str = "Policy document must be version 2012-10-17 or greater.";
    /// `Effect` in the wrong case, a date that is not a date, an ARN with `::` and fewer than
    /// six parts.
    pub(crate) const LEGACY: &str = "The policy failed legacy parsing";
    pub(crate) const SID_UNIQUE: &str = "Statement IDs (SID) in a single policy must be unique.";
    pub(crate) const SID_CHARS: &str = "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*";
    pub(crate) const NO_ACTIONS: &str = "Policy statement must contain actions.";
    pub(crate) const NO_RESOURCES: &str = "Policy statement must contain resources.";
    pub(crate) const NO_VENDOR: &str =
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.";
    pub(crate) const ONE_COLON: &str = "Actions/Condition can contain only one colon.";
    pub(crate) const RESOURCE_VENDOR: &str =
        "Resource vendor must be fully qualified and cannot contain regexes.";
    pub(crate) const IAM_PATH: &str = "IAM resource path must either be \"*\", root, or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.";
    pub(crate) const PRINCIPAL_FORBIDDEN: &str = "Policy document should not specify a principal.";
    pub(crate) const NO_PRINCIPALS: &str = "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!";
    pub(crate) const TRUST_ACTIONS: &str =
        "AssumeRole policy may only specify STS AssumeRole actions.";
}

/// AWS IoT's `MalformedPolicyException` messages.
pub(crate) mod iot {
    pub(crate) const SYNTAX: &str = "Policy document is Malformed: Invalid policy syntax.";
}

/// A policy that could not be accepted.
///
/// `Display` gives the AWS message, our detail, and where the problem is, for example
/// `MalformedPolicyDocument: Policy statement must contain actions. (Statement[1] "ReadOnly", element Action)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    kind: ErrorKind,
    message: String,
    /// Boxed so that `Result<_, PolicyError>` stays small.
    more: Box<More>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct More {
    detail: Option<String>,
    statement: Option<usize>,
    sid: Option<String>,
    element: Option<String>,
    /// The resource string at fault, for the messages that name it (AWS IoT).
    resource: Option<String>,
}

impl PolicyError {
    /// A `MalformedPolicyDocument` with AWS's `message`.
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        PolicyError {
            kind: ErrorKind::MalformedPolicyDocument,
            message: message.into(),
            more: Box::default(),
        }
    }

    /// `Syntax errors in policy.` with our explanation.
    pub(crate) fn syntax(detail: impl Into<String>) -> Self {
        PolicyError::malformed(iam::SYNTAX).detailed(detail)
    }

    pub(crate) fn limit(message: impl Into<String>) -> Self {
        PolicyError {
            kind: ErrorKind::LimitExceeded,
            ..PolicyError::malformed(message)
        }
    }

    /// Add our explanation (kept apart from AWS's message).
    pub(crate) fn detailed(mut self, detail: impl Into<String>) -> Self {
        self.more.detail = Some(detail.into());
        self
    }

    pub(crate) fn about_resource(mut self, resource: &str) -> Self {
        self.more.resource = Some(resource.to_owned());
        self
    }

    pub(crate) fn in_element(mut self, element: &str) -> Self {
        if self.more.element.is_none() {
            self.more.element = Some(element.to_owned());
        }
        self
    }

    pub(crate) fn in_statement(mut self, index: usize, sid: Option<&str>) -> Self {
        self.more.statement = Some(index);
        self.more.sid = sid.map(str::to_owned);
        self
    }

    /// Reword as AWS IoT's `CreatePolicy` does (`MalformedPolicyException`); the IAM wording
    /// moves into the detail.
    pub(crate) fn into_iot(mut self) -> Self {
        if self.kind != ErrorKind::MalformedPolicyDocument {
            return self;
        }
        let iam_message = std::mem::replace(
            &mut self.message,
            match &self.more.resource {
                Some(r) => {
                    format!(
                        "Policy document is Malformed: The following resources are invalid : {r}"
                    )
                }
                None => iot::SYNTAX.to_owned(),
            },
        );
        self.more.detail = Some(match self.more.detail.take() {
            Some(d) => format!("{iam_message} {d}"),
            None => iam_message,
        });
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

    /// AWS's wording of the error, as an AWS service answers it (no location, no detail).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Our explanation of what exactly is wrong, when it says more than [`Self::message`].
    pub fn detail(&self) -> Option<&str> {
        self.more.detail.as_deref()
    }

    /// Zero-based index of the offending statement, when the error is inside one.
    pub fn statement_index(&self) -> Option<usize> {
        self.more.statement
    }

    /// `Sid` of the offending statement, when it has one.
    pub fn sid(&self) -> Option<&str> {
        self.more.sid.as_deref()
    }

    /// The policy element (`Action`, `Condition`, ...) the error is about, when known.
    pub fn element(&self) -> Option<&str> {
        self.more.element.as_deref()
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.message)?;
        let more = &self.more;
        if let Some(detail) = &more.detail {
            write!(f, " {detail}")?;
        }
        match (more.statement, &more.element) {
            (None, None) => Ok(()),
            (None, Some(element)) => write!(f, " (element {element})"),
            (Some(index), element) => {
                write!(f, " (Statement[{index}]")?;
                if let Some(sid) = &more.sid {
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
