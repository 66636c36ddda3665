//! The conformance kit, against the template: every case must fail, and
//! say which method is not written yet. Once your wire is written, replace
//! `the_kit_fails_every_case_naming_what_is_not_written` with
//! `pointshare_testkit::provider_kit!(sandbox());` and make every case pass
//! (README.md, step 3).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures::FutureExt;
use pointshare_domain::ports::PointsProvider;
use pointshare_domain::{AccountStatus, ProviderAccountId};
use pointshare_testkit::contract::provider_kit::{CASES, Sandbox};
use provider_template::{TemplateProvider, TemplateSettings};

/// Your provider, and its sandbox's controls.
struct TemplateSandbox {
    provider: Arc<TemplateProvider>,
}

#[async_trait]
impl Sandbox for TemplateSandbox {
    fn provider(&self) -> Arc<dyn PointsProvider> {
        self.provider.clone()
    }

    async fn set_status(&self, account: &ProviderAccountId, status: AccountStatus) {
        panic!(
            "TemplateSandbox::set_status is not written yet: make {account} {status:?} with your provider's sandbox controls"
        );
    }
}

async fn sandbox() -> TemplateSandbox {
    TemplateSandbox { provider: Arc::new(TemplateProvider::new(TemplateSettings::default())) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kit_fails_every_case_naming_what_is_not_written() {
    let sandbox = sandbox().await;
    for (name, case) in CASES {
        let failed = AssertUnwindSafe(case(&sandbox)).catch_unwind().await.expect_err(name);
        let said = failed
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| failed.downcast_ref::<&str>().map(|said| (*said).to_owned()))
            .unwrap_or_default();
        assert!(said.contains("is not written yet"), "{name} fails saying what is missing, not: {said}");
    }
}
