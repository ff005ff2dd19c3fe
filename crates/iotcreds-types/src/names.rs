//! Name rules (length and character class) of every named IoT and IAM entity, as the botocore
//! models give them, and the validation error that reports a broken rule.

use std::fmt;

/// A value broke one of AWS's input constraints.
///
/// `Display` gives AWS's own wording, for example
/// `Value 'a b' at 'thingName' failed to satisfy constraint: Member must satisfy regular
/// expression pattern: [a-zA-Z0-9:_-]+`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Value '{value}' at '{field}' failed to satisfy constraint: {constraint}")]
pub struct ValidationError {
    /// The wire name of the field, for example `thingName` or `roleName`.
    pub field: String,
    /// The offending value, shortened to 128 characters so it cannot flood a log line.
    pub value: String,
    /// The rule, in AWS's words.
    pub constraint: String,
}

impl ValidationError {
    /// A validation error for `field` holding `value`, which broke `constraint`.
    pub fn new(field: &str, value: &str, constraint: impl Into<String>) -> Self {
        let value: String = value.chars().take(128).collect();
        Self {
            field: field.to_owned(),
            value,
            constraint: constraint.into(),
        }
    }
}

/// Which characters a name may use. Each variant is one pattern from the service models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// `[a-zA-Z0-9:_-]+`: thing names, thing type names.
    Thing,
    /// `[\w=,@-]+`: role aliases.
    RoleAlias,
    /// `[\w+=,.@-]+`: IoT policy names, IAM role, user and policy names.
    IamName,
    /// `[a-zA-Z0-9_.,@/:#-]+`: thing attribute names.
    AttributeName,
    /// `[a-zA-Z0-9_.,@/:#=\[\]-]*`: thing attribute values.
    AttributeValue,
    /// `[\u0009\u000A\u000D\u0020-\u00FF]+`-like printable text: descriptions.
    Printable,
}

impl Charset {
    fn pattern(self) -> &'static str {
        match self {
            Charset::Thing => "[a-zA-Z0-9:_-]+",
            Charset::RoleAlias => "[\\w=,@-]+",
            Charset::IamName => "[\\w+=,.@-]+",
            Charset::AttributeName => "[a-zA-Z0-9_.,@/:#-]+",
            Charset::AttributeValue => "[a-zA-Z0-9_.,@/:#=\\[\\]-]*",
            Charset::Printable => "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+",
        }
    }

    fn allows(self, c: char) -> bool {
        let word = c.is_ascii_alphanumeric() || c == '_';
        match self {
            Charset::Thing => c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'),
            Charset::RoleAlias => word || matches!(c, '=' | ',' | '@' | '-'),
            Charset::IamName => word || matches!(c, '+' | '=' | ',' | '.' | '@' | '-'),
            Charset::AttributeName => {
                c.is_ascii_alphanumeric()
                    || matches!(c, '_' | '.' | ',' | '@' | '/' | ':' | '#' | '-')
            }
            Charset::AttributeValue => {
                c.is_ascii_alphanumeric()
                    || matches!(
                        c,
                        '_' | '.' | ',' | '@' | '/' | ':' | '#' | '=' | '[' | ']' | '-'
                    )
            }
            Charset::Printable => {
                matches!(c, '\t' | '\n' | '\r') || ('\u{20}'..='\u{ff}').contains(&c)
            }
        }
    }
}

/// The length bounds and character class of one kind of name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRule {
    /// Minimum length in characters.
    pub min: usize,
    /// Maximum length in characters.
    pub max: usize,
    /// Allowed characters.
    pub charset: Charset,
}

impl NameRule {
    /// Check `value` (the content of `field`) against this rule.
    pub fn check(&self, field: &str, value: &str) -> Result<(), ValidationError> {
        let len = value.chars().count();
        if len < self.min {
            return Err(ValidationError::new(
                field,
                value,
                format!(
                    "Member must have length greater than or equal to {}",
                    self.min
                ),
            ));
        }
        if len > self.max {
            return Err(ValidationError::new(
                field,
                value,
                format!("Member must have length less than or equal to {}", self.max),
            ));
        }
        if !value.chars().all(|c| self.charset.allows(c)) {
            return Err(ValidationError::new(
                field,
                value,
                format!(
                    "Member must satisfy regular expression pattern: {}",
                    self.charset.pattern()
                ),
            ));
        }
        Ok(())
    }
}

/// `thingName`, 1–128, `[a-zA-Z0-9:_-]+`.
pub const THING_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::Thing,
};
/// `thingTypeName`, 1–128, `[a-zA-Z0-9:_-]+`.
pub const THING_TYPE_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::Thing,
};
/// Thing attribute name, 1–128.
pub const ATTRIBUTE_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::AttributeName,
};
/// Thing attribute value, 0–800.
pub const ATTRIBUTE_VALUE: NameRule = NameRule {
    min: 0,
    max: 800,
    charset: Charset::AttributeValue,
};
/// `roleAlias`, 1–128, `[\w=,@-]+`.
pub const ROLE_ALIAS: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::RoleAlias,
};
/// IoT `policyName`, 1–128, `[\w+=,.@-]+`.
pub const IOT_POLICY_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::IamName,
};
/// IAM `RoleName`, 1–64, `[\w+=,.@-]+`.
pub const IAM_ROLE_NAME: NameRule = NameRule {
    min: 1,
    max: 64,
    charset: Charset::IamName,
};
/// IAM `UserName`, 1–64, `[\w+=,.@-]+`.
pub const IAM_USER_NAME: NameRule = NameRule {
    min: 1,
    max: 64,
    charset: Charset::IamName,
};
/// IAM `PolicyName` (inline and managed), 1–128, `[\w+=,.@-]+`.
pub const IAM_POLICY_NAME: NameRule = NameRule {
    min: 1,
    max: 128,
    charset: Charset::IamName,
};
/// STS `RoleSessionName`, 2–64, `[\w+=,.@-]*`.
pub const ROLE_SESSION_NAME: NameRule = NameRule {
    min: 2,
    max: 64,
    charset: Charset::IamName,
};
/// IAM `Description`, 0–1000.
pub const IAM_DESCRIPTION: NameRule = NameRule {
    min: 0,
    max: 1000,
    charset: Charset::Printable,
};

/// Check an IAM path: `/` alone, or `/` + printable ASCII + `/`, at most 512 characters.
pub fn check_iam_path(field: &str, path: &str) -> Result<(), ValidationError> {
    const RULE: &str = "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)";
    if path.len() > 512 {
        return Err(ValidationError::new(
            field,
            path,
            "Member must have length less than or equal to 512",
        ));
    }
    let ok = path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(field, path, RULE))
    }
}

/// The characters IAM, STS and IoT allow in tag keys and values, as their models write the
/// pattern: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`.
pub const TAG_PATTERN: &str = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]";

/// Whether every character of `s` is one of [`TAG_PATTERN`]: letters, digits, separators
/// (spaces, not tabs or line breaks) and `_.:/=+-@`. The one definition of the rule; each
/// service words its refusal in its own model's terms.
pub fn is_tag_text(s: &str) -> bool {
    s.chars().all(|c| {
        c.is_alphanumeric()
            || (c.is_whitespace() && !c.is_control())
            || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
    })
}

/// Check a tag key or value of `min..=max` characters against [`TAG_PATTERN`], in IAM's and
/// STS's words.
pub fn check_tag_text(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    check_length(field, value, min, max)?;
    if !is_tag_text(value) {
        let suffix = if min == 0 { "*" } else { "+" };
        return Err(ValidationError::new(
            field,
            value,
            format!("Member must satisfy regular expression pattern: {TAG_PATTERN}{suffix}"),
        ));
    }
    Ok(())
}

/// Check a tag key (1–128) and value (0–256) as IAM, STS and IoT define them.
pub fn check_tag(key: &str, value: &str) -> Result<(), ValidationError> {
    check_tag_text("tags.member.key", key, 1, 128)?;
    check_tag_text("tags.member.value", value, 0, 256)
}

/// A string of `min..=max` characters, as AWS reports it when it is not.
pub fn check_length(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ValidationError> {
    let len = value.chars().count();
    let constraint = if len < min {
        format!("Member must have length greater than or equal to {min}")
    } else if len > max {
        format!("Member must have length less than or equal to {max}")
    } else {
        return Ok(());
    };
    Err(ValidationError::new(field, value, constraint))
}

/// A value that must lie in `min..=max`, as AWS reports it when it does not.
pub fn check_range(field: &str, value: i64, min: i64, max: i64) -> Result<(), ValidationError> {
    if value < min {
        return Err(ValidationError::new(
            field,
            &value.to_string(),
            format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(ValidationError::new(
            field,
            &value.to_string(),
            format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

impl fmt::Display for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pattern())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thing_names() {
        assert!(THING_NAME.check("thingName", "ADCTestThing").is_ok());
        assert!(THING_NAME.check("thingName", "a:b_c-1").is_ok());
        let e = THING_NAME.check("thingName", "a b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Value 'a b' at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+"
        );
        assert!(THING_NAME.check("thingName", "").is_err());
        assert!(THING_NAME.check("thingName", &"a".repeat(128)).is_ok());
        assert!(THING_NAME.check("thingName", &"a".repeat(129)).is_err());
    }

    #[test]
    fn role_alias_and_iam_names() {
        assert!(ROLE_ALIAS.check("roleAlias", "ADCTestRoleAlias").is_ok());
        assert!(ROLE_ALIAS.check("roleAlias", "a.b").is_err());
        assert!(IAM_ROLE_NAME.check("roleName", "ADCTestRole").is_ok());
        assert!(IAM_ROLE_NAME.check("roleName", "a.b+c=d,e@f-g_h").is_ok());
        assert!(IAM_ROLE_NAME.check("roleName", &"r".repeat(65)).is_err());
        assert!(IAM_ROLE_NAME.check("roleName", "a/b").is_err());
    }

    #[test]
    fn attributes() {
        assert!(ATTRIBUTE_VALUE.check("attributes", "").is_ok());
        assert!(ATTRIBUTE_VALUE.check("attributes", "[x]=1").is_ok());
        assert!(ATTRIBUTE_VALUE.check("attributes", "x y").is_err());
        assert!(ATTRIBUTE_NAME.check("attributes", "model/serial#1").is_ok());
    }

    #[test]
    fn paths() {
        assert!(check_iam_path("path", "/").is_ok());
        assert!(check_iam_path("path", "/division_abc/subdivision_xyz/").is_ok());
        assert!(check_iam_path("path", "//").is_err());
        assert!(check_iam_path("path", "/a").is_err());
        assert!(check_iam_path("path", "a/").is_err());
        assert!(check_iam_path("path", "/a b/").is_err());
    }

    /// The tag rule of IAM, STS and IoT: `[\p{L}\p{Z}\p{N}_.:/=+\-@]`, keys 1–128 and values
    /// 0–256 characters (not bytes).
    #[test]
    fn tags() {
        for ok in [
            "site",
            "Ōsaka plant 7/line:2=a+b-c@d_e",
            "名前",
            "a\u{00a0}b",
        ] {
            assert!(is_tag_text(ok), "{ok}");
            assert!(check_tag(ok, ok).is_ok(), "{ok}");
        }
        for bad in ["a\tb", "a\nb", "a#b", "a*b", "a,b", "a\u{0}b", "a\u{85}b"] {
            assert!(!is_tag_text(bad), "{bad:?}");
            let e = check_tag(bad, "").unwrap_err();
            assert!(e.constraint.contains(TAG_PATTERN), "{e}");
        }
        assert!(check_tag("", "v").is_err());
        assert!(check_tag("k", "").is_ok());
        assert!(check_tag(&"é".repeat(128), &"é".repeat(256)).is_ok());
        assert!(check_tag(&"k".repeat(129), "").is_err());
        assert!(check_tag("k", &"v".repeat(257)).is_err());
    }

    #[test]
    fn ranges() {
        assert!(check_range("credentialDurationSeconds", 900, 900, 43200).is_ok());
        let e = check_range("credentialDurationSeconds", 899, 900, 43200).unwrap_err();
        assert!(e.to_string().contains("greater than or equal to 900"));
        assert!(check_range("credentialDurationSeconds", 43201, 900, 43200).is_err());
    }
}
