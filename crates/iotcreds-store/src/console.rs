//! Rows kept for the web console: IAM users' console passwords ([`LoginProfile`]) and the
//! credentials endpoint's recent decisions ([`CredentialEvent`]).

/// An IAM user's console password (`CreateLoginProfile`): the password is kept only as an
/// argon2id hash in PHC string form.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginProfile {
    /// The user's name as stored with the user.
    pub user_name: String,
    /// `$argon2id$v=19$m=…,t=…,p=…$salt$hash`. Never logged: `Debug` redacts it.
    pub password_hash: String,
    /// Whether the user must choose a new password at the next sign-in.
    pub password_reset_required: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// When the password was last set (ms). Console sessions signed in before it are void.
    pub password_set_at: i64,
}

impl std::fmt::Debug for LoginProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfile")
            .field("user_name", &self.user_name)
            .field("password_hash", &"<redacted>")
            .field("password_reset_required", &self.password_reset_required)
            .field("created_at", &self.created_at)
            .field("password_set_at", &self.password_set_at)
            .finish()
    }
}

/// A change to a login profile (`UpdateLoginProfile`, a password change); `None` fields are
/// unchanged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LoginProfileUpdate {
    /// A new password hash, set at `password_set_at`.
    pub password_hash: Option<String>,
    /// When the new hash was made (ms); required with `password_hash`.
    pub password_set_at: i64,
    /// New value of the reset flag.
    pub password_reset_required: Option<bool>,
}

impl std::fmt::Debug for LoginProfileUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginProfileUpdate")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("password_set_at", &self.password_set_at)
            .field("password_reset_required", &self.password_reset_required)
            .finish()
    }
}

/// One decision of the credentials endpoint, as its audit line records it. Every field is
/// public information (ids, names, reasons); no secret is ever part of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialEvent {
    /// Order of arrival in the store, assigned by the store (ignored on append).
    pub seq: i64,
    /// When the request was decided (ms).
    pub at: i64,
    /// The request's `x-amzn-RequestId`.
    pub request_id: String,
    /// Whether credentials were issued.
    pub issued: bool,
    /// The HTTP status answered (200, 403, 404, …).
    pub status: i64,
    /// The client certificate's id, when the request got that far.
    pub certificate_id: String,
    /// The `x-amzn-iot-thingname` header, if sent.
    pub thing: String,
    /// The role alias from the path.
    pub role_alias: String,
    /// The assumed role (issued only).
    pub role: String,
    /// The temporary access key id issued (issued only; the id is public, its secret is not).
    pub access_key_id: String,
    /// Expiry of the issued credentials, `YYYY-MM-DDTHH:MM:SSZ` (issued only).
    pub expiration: String,
    /// Why it was refused (refused only).
    pub reason: String,
    /// The statements that decided a policy refusal (`ADCTestPolicy v1 statement 0 (Sid)`).
    pub statement: String,
    /// The client's address.
    pub source_ip: String,
}

/// Which credential events to read, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialEventFilter {
    /// Only events for this thing name.
    pub thing: Option<String>,
    /// Only events for this certificate id.
    pub certificate_id: Option<String>,
    /// Only events for this role alias.
    pub role_alias: Option<String>,
    /// Only issuances (`Some(true)`) or refusals (`Some(false)`).
    pub issued: Option<bool>,
    /// Only events older than this `seq` (the next page).
    pub before_seq: Option<i64>,
    /// At most this many (1..=1000; the store clamps).
    pub limit: u32,
}

impl Default for CredentialEventFilter {
    fn default() -> Self {
        Self {
            thing: None,
            certificate_id: None,
            role_alias: None,
            issued: None,
            before_seq: None,
            limit: 100,
        }
    }
}
