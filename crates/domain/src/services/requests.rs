//! The request a piece of work is done for, carried with the work: into the
//! follow-ups that outlive the request's answer, and out to the provider
//! (its adapter sends it as `X-Request-Id`), so one id finds a share in our
//! logs and in the provider's. Work started by no request (recovery, mail)
//! has none.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `work` for the request `request_id`.
pub async fn on_behalf_of<F: Future>(request_id: String, work: F) -> F::Output {
    REQUEST_ID.scope(request_id, work).await
}

/// The id of the request the running work is done for, if any.
pub fn current_request() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// `work`, to run elsewhere (a spawned task) for the request this runs for now.
pub(crate) fn carried<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let request = current_request();
    async move {
        match request {
            Some(id) => on_behalf_of(id, work).await,
            None => work.await,
        }
    }
}
