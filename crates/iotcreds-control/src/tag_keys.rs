//! The tag condition keys of IAM and IoT requests: `aws:RequestTag/KEY` and `aws:TagKeys` for a
//! request that sets tags, `aws:ResourceTag/KEY` for a request on a tagged resource.

use iotcreds_policy::Context;
use iotcreds_store::Tag;

/// `aws:RequestTag/KEY` and `aws:TagKeys` for a request that sets tags.
pub(crate) fn insert_request_tags(ctx: &mut Context, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    for t in tags {
        ctx.insert(&format!("aws:RequestTag/{}", t.key), t.value.clone());
    }
    ctx.insert_multi("aws:TagKeys", tags.iter().map(|t| t.key.clone()).collect());
}

/// `aws:ResourceTag/KEY` for a request on a tagged resource.
pub(crate) fn insert_resource_tags(ctx: &mut Context, tags: &[Tag]) {
    for t in tags {
        ctx.insert(&format!("aws:ResourceTag/{}", t.key), t.value.clone());
    }
}
