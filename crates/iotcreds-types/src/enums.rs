//! The status and mode enumerations of the IoT and IAM models, with their wire spellings.

use std::fmt;
use std::str::FromStr;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in the model's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err(crate::ValidationError::new(
                        stringify!($name),
                        s,
                        format!(
                            "Member must satisfy enum value set: [{}]",
                            [$($wire),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}

wire_enum!(
    /// Status of a device certificate (`CertificateStatus`).
    CertificateStatus {
        /// Authenticates.
        Active = "ACTIVE",
        /// Registered, does not authenticate.
        Inactive = "INACTIVE",
        /// Revoked, does not authenticate.
        Revoked = "REVOKED",
        /// Being transferred to another account.
        PendingTransfer = "PENDING_TRANSFER",
        /// Deprecated registration status.
        RegisterInactive = "REGISTER_INACTIVE",
        /// Waiting for activation (just-in-time registration).
        PendingActivation = "PENDING_ACTIVATION",
    }
);

wire_enum!(
    /// Status of a CA certificate (`CACertificateStatus`).
    CaCertificateStatus {
        /// Certificates it signed authenticate.
        Active = "ACTIVE",
        /// Certificates it signed do not authenticate.
        Inactive = "INACTIVE",
    }
);

wire_enum!(
    /// How a certificate is registered (`CertificateMode`).
    CertificateMode {
        /// Registered with (or issued by) a CA registered in the account.
        Default = "DEFAULT",
        /// Registered without a CA; the device must send SNI.
        SniOnly = "SNI_ONLY",
    }
);

wire_enum!(
    /// Auto-registration of a CA certificate (`AutoRegistrationStatus`).
    AutoRegistrationStatus {
        /// Certificates signed by the CA register on first connection.
        Enable = "ENABLE",
        /// No auto-registration.
        Disable = "DISABLE",
    }
);

wire_enum!(
    /// OCSP checking of a registered CA's devices at issuance (an iotcreds extension).
    OcspMode {
        /// No OCSP request.
        Off = "OFF",
        /// Refuse a revoked certificate; issue when the responder cannot answer.
        FailOpen = "FAIL_OPEN",
        /// Refuse a revoked certificate, and every certificate while no answer can be had.
        FailClosed = "FAIL_CLOSED",
    }
);

impl Default for OcspMode {
    /// A CA is registered without OCSP checking, as AWS IoT does none.
    fn default() -> Self {
        Self::Off
    }
}

wire_enum!(
    /// Thing-principal attachment kind (`ThingPrincipalType`).
    ThingPrincipalType {
        /// The principal may be attached to this thing only.
        ExclusiveThing = "EXCLUSIVE_THING",
        /// The principal may be attached to many things.
        NonExclusiveThing = "NON_EXCLUSIVE_THING",
    }
);

wire_enum!(
    /// IAM access key status (`statusType`).
    AccessKeyStatus {
        /// Signs requests.
        Active = "Active",
        /// Refused.
        Inactive = "Inactive",
    }
);

impl CertificateStatus {
    /// Whether a certificate in this status may authenticate.
    pub fn authenticates(self) -> bool {
        self == CertificateStatus::Active
    }
}
