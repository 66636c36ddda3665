//! The repository, audit log, outbox, cache and events contracts, held against the embedded adapters.

use std::sync::Arc;

use pointshare_embedded::{
    InMemoryBalanceCache, InMemoryDailyTotals, InMemoryEvents, InMemoryMembers, InMemoryRateLimiter, InMemorySessions,
    InMemoryTransfers,
};
use pointshare_testkit::contract::cache::CacheUnderTest;
use pointshare_testkit::contract::events::EventsUnderTest;
use pointshare_testkit::contract::store::StoreUnderTest;

mod store {
    use super::*;
    pointshare_testkit::store_contract!(async {
        let members = Arc::new(InMemoryMembers::default());
        StoreUnderTest {
            members: members.clone(),
            directory: members,
            transfers: Arc::new(InMemoryTransfers::default()),
            sessions: Arc::new(InMemorySessions::default()),
            totals: Arc::new(InMemoryDailyTotals::default()),
            tokens: Arc::new(pointshare_embedded::InMemoryAccountTokens::default()),
        }
    });
}

mod outbox {
    pointshare_testkit::outbox_contract!(async { std::sync::Arc::new(pointshare_embedded::InMemoryOutbox::default()) });
}

mod audit {
    pointshare_testkit::audit_contract!(async {
        std::sync::Arc::new(pointshare_embedded::InMemoryAuditLog::default())
    });
}

mod cache {
    use super::*;
    pointshare_testkit::cache_contract!(async {
        CacheUnderTest {
            cache: Arc::new(InMemoryBalanceCache::default()),
            limiter: Arc::new(InMemoryRateLimiter::default()),
        }
    });
}

mod events {
    use super::*;
    pointshare_testkit::events_contract!(async {
        let retention = std::time::Duration::from_secs(1);
        let events = Arc::new(InMemoryEvents::new(retention));
        EventsUnderTest { here: events.clone(), elsewhere: events, retention }
    });
}
