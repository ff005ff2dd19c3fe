//! The conformance suite every registry engine must pass.
//!
//! An engine's integration test implements [`Harness`] (how to create a fresh, empty registry
//! and how to open a second handle on it) and expands [`store_suite!`], which writes one
//! `#[tokio::test]` per case, each on its own fresh database:
//!
//! ```text
//! struct SqliteHarness { /* temp dir, store */ }
//! #[async_trait::async_trait]
//! impl iotcreds_store_tests::Harness for SqliteHarness { /* ... */ }
//! iotcreds_store_tests::store_suite!(SqliteHarness);
//! ```
//!
//! The cases ([`cases`]) cover every `Store` method: happy paths, each rule error its docs
//! name, paging, filters, idempotence, the generation counter, change notification and
//! concurrent writers racing a limit. The engine test crate needs `tokio` (with `macros` and
//! `rt-multi-thread`) as a dev-dependency.

pub mod cases;
pub mod fixtures;

use std::sync::Arc;

use async_trait::async_trait;
use iotcreds_store::{Limits, Store};

/// How the suite gets databases from an engine.
#[async_trait]
pub trait Harness: Send + Sync + Sized + 'static {
    /// `Store::engine` of the engine under test.
    const ENGINE: &'static str;
    /// Whether `Store::subscribe` pushes changes (`Some`) or callers must poll (`None`).
    const PUSHES_CHANGES: bool;

    /// Create a fresh, empty registry enforcing `limits`, and open it. Panics (naming what
    /// could not be reached) if that is impossible: the suite never skips silently.
    async fn create(limits: Limits) -> Self;

    /// The store opened by [`Harness::create`].
    fn store(&self) -> Arc<dyn Store>;

    /// Open another, independent handle (own pool, as another process would) on the same
    /// database, with the same limits.
    async fn reopen(&self) -> Arc<dyn Store>;
}

/// Expand to one `#[tokio::test]` per conformance case for the engine harness `$h` (a type
/// implementing [`Harness`], in scope where the macro is expanded).
#[macro_export]
macro_rules! store_suite {
    ($h:ty) => {
        $crate::__store_cases!($h;
            engine {
                ping_and_engine_name,
                generation_moves_on_writes_only,
                subscribe_reports_other_handles_writes,
                reopened_handle_sees_committed_state,
                settings_put_and_get,
                init_setting_first_value_wins,
                init_setting_concurrent_callers_agree,
                sealing_keys_lifecycle,
                sealing_key_revocation,
            }
            certificates {
                ca_certificate_lifecycle,
                ca_certificates_per_subject_limit,
                ca_crl_replaces_forward_only,
                ca_revocation_config_round_trips,
                ca_certificates_list_pages_both_ways,
                certificate_insert_rules,
                certificate_update_status_bumps_version,
                certificate_delete_rules,
                certificates_list_by_creation_time,
            }
            things {
                thing_type_lifecycle,
                thing_insert_rules,
                thing_update_compare_and_swap,
                thing_delete_rules,
                things_list_filters_and_pages,
                thing_principal_attach_detach,
                thing_principal_exclusive_rules,
                thing_session_revocation,
            }
            iot_policies {
                iot_policy_create_get_list,
                iot_policy_versions_lifecycle,
                iot_policy_version_limit,
                iot_policy_delete_rules,
                iot_policy_attach_rules,
                iot_policy_lists_of_attachments,
                attached_iot_policies_resolves_once_each,
                iot_policy_default_limits,
            }
            iam_roles {
                role_names_ignore_case,
                role_update_and_trust_policy,
                role_tags_and_limit,
                roles_list_by_path_and_pages,
                role_inline_policies,
                role_delete_rules,
            }
            iam_policies {
                managed_policy_create_and_lookup,
                managed_policy_versions_lifecycle,
                managed_policy_attach_rules,
                managed_policy_delete_rules,
                managed_policies_list_filters,
                effective_policies_order_and_content,
                managed_policy_tags_and_limit,
            }
            iam_users {
                user_names_ignore_case_and_paths,
                user_inline_policies,
                access_keys_lifecycle,
                user_delete_rules,
                user_tags_and_limit,
                permissions_boundaries,
                user_rename_keeps_everything,
                access_key_last_use,
            }
            console {
                login_profile_lifecycle,
                credential_events_filter_page_and_retain,
            }
            role_aliases {
                role_alias_lifecycle,
                role_aliases_list_both_ways,
                iot_resource_tags_lifecycle,
            }
            paging {
                invalid_markers_are_refused,
                page_size_is_clamped,
                lists_page_through_everything,
            }
            concurrency {
                concurrent_policy_versions_never_exceed_limit,
                concurrent_iot_attaches_never_exceed_limit,
                concurrent_managed_attaches_never_exceed_limit,
                concurrent_access_keys_never_exceed_limit,
                concurrent_creates_one_wins_regardless_of_case,
                concurrent_writers_on_two_handles,
            }
        );
    };
}

/// Implementation detail of [`store_suite!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __store_cases {
    ($h:ty; $($module:ident { $($case:ident),* $(,)? })*) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        $crate::cases::$module::$case::<$h>().await;
                    }
                )*
            }
        )*
    };
}
