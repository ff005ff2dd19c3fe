//! Constructors of the targets the rows name.

use super::{Loc, Spelling, Target};
use crate::fixture::Fixture;

pub(crate) fn iot_name(
    fx: &Fixture,
    action: &'static str,
    kind: &str,
    name: &str,
    create: bool,
) -> Target {
    iot_name_at(fx, action, kind, name, create, Loc::Path)
}

pub(crate) fn iot_name_at(
    fx: &Fixture,
    action: &'static str,
    kind: &str,
    name: &str,
    create: bool,
    loc: Loc,
) -> Target {
    Target {
        action,
        canonical: fx.iot_arn(kind, name),
        probe: None,
        spelling: Spelling::IotName {
            name: name.into(),
            loc,
            create,
        },
    }
}

pub(crate) fn cert_id(fx: &Fixture, action: &'static str, kind: &str, id: &str) -> Target {
    Target {
        action,
        canonical: fx.iot_arn(kind, id),
        probe: None,
        spelling: Spelling::CertId { id: id.into() },
    }
}

pub(crate) fn cert_arn(fx: &Fixture, action: &'static str, id: &str, loc: Loc) -> Target {
    let arn = fx.iot_arn("cert", id);
    Target {
        action,
        canonical: arn.clone(),
        probe: None,
        spelling: Spelling::CertArn { arn, loc },
    }
}

/// The ARN of an IoT resource (`kind` `cacert`, `policy`, `rolealias`, `thingtype`) where a
/// request names it by ARN (`TagResource` and friends).
pub(crate) fn iot_arn(
    fx: &Fixture,
    action: &'static str,
    kind: &str,
    key: &str,
    loc: Loc,
) -> Target {
    let arn = fx.iot_arn(kind, key);
    let spelling = if kind == "cacert" {
        Spelling::CertArn {
            arn: arn.clone(),
            loc,
        }
    } else {
        Spelling::IotArn {
            arn: arn.clone(),
            loc,
        }
    };
    Target {
        action,
        canonical: arn,
        probe: None,
        spelling,
    }
}

/// A resource the request designates without spelling it (`GetAccessKeyLastUsed` names a key,
/// and is authorised on the key's owner): only the allow direction is checked here.
pub(crate) fn designated(action: &'static str, canonical: String) -> Target {
    Target {
        action,
        canonical,
        probe: None,
        spelling: Spelling::Any,
    }
}

pub(crate) fn iam_name(
    action: &'static str,
    canonical: String,
    name: &str,
    create: bool,
) -> Target {
    Target {
        action,
        canonical,
        probe: None,
        spelling: Spelling::IamName {
            name: name.into(),
            create,
        },
    }
}

pub(crate) fn iam_arn(
    action: &'static str,
    arn: String,
    loc: Loc,
    case_insensitive: bool,
) -> Target {
    Target {
        action,
        canonical: arn.clone(),
        probe: None,
        spelling: Spelling::IamArn {
            arn,
            loc,
            case_insensitive,
        },
    }
}
