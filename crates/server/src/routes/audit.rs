//! The audit log for admins: pages of records, newest first, filtered by
//! actor, target, action and time; and the same filters as a CSV download,
//! oldest first, streamed a batch of records at a time.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use pointshare_domain::ports::AuditFilter;
use pointshare_domain::{AuditAction, AuditRecord};

use super::caller::Admin;
use super::views::millis;
use crate::problem::{ApiError, ProblemCode};
use crate::wiring::AppState;

type State = web::Data<Arc<AppState>>;

/// Records an export reads at a time.
const EXPORT_BATCH: usize = 500;

/// A privileged act, as the audit log holds it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecordView {
    /// Its place in the chain, from 1.
    #[schema(example = 42)]
    pub seq: u64,
    #[serde(serialize_with = "millis")]
    #[schema(example = "2026-11-26T09:31:02.000Z")]
    pub at: DateTime<Utc>,
    /// `member:<id>` (an admin, over the API) or `operator:<name>` (the command line).
    #[schema(example = "member:0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091")]
    pub actor: String,
    pub action: AuditActionView,
    /// `member:<id>` or `transfer:<id>`.
    #[schema(example = "member:0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8092")]
    pub target: String,
    /// What the act changed, as it was; absent where nothing stood before.
    #[schema(example = "member", required = true)]
    pub before: Option<String>,
    #[schema(example = "admin", required = true)]
    pub after: Option<String>,
    #[schema(example = "on call this week", required = true)]
    pub reason: Option<String>,
    /// The `X-Request-Id` of the request that did it; absent from the command line.
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// The client's address; absent from the command line.
    #[schema(required = true)]
    pub client: Option<String>,
    /// What the act brought about: the transfer a grant created.
    #[schema(required = true)]
    pub caused: Option<String>,
    /// SHA-256 of this record and `previous`: `pointshare audit verify` checks the chain.
    #[schema(example = "9f2c0d1e5b7a4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d")]
    pub hash: String,
    /// The hash of the record before; sixty-four zeros for the first.
    pub previous: String,
}

/// The privileged acts the log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditActionView {
    Grant,
    Reversal,
    Adjustment,
    Approval,
    RoleChange,
    StatusChange,
    Resolution,
    BootstrapAdmin,
}

impl From<AuditAction> for AuditActionView {
    fn from(action: AuditAction) -> Self {
        match action {
            AuditAction::Grant => AuditActionView::Grant,
            AuditAction::Reversal => AuditActionView::Reversal,
            AuditAction::Adjustment => AuditActionView::Adjustment,
            AuditAction::Approval => AuditActionView::Approval,
            AuditAction::RoleChange => AuditActionView::RoleChange,
            AuditAction::StatusChange => AuditActionView::StatusChange,
            AuditAction::Resolution => AuditActionView::Resolution,
            AuditAction::BootstrapAdmin => AuditActionView::BootstrapAdmin,
        }
    }
}

impl From<AuditActionView> for AuditAction {
    fn from(action: AuditActionView) -> Self {
        match action {
            AuditActionView::Grant => AuditAction::Grant,
            AuditActionView::Reversal => AuditAction::Reversal,
            AuditActionView::Adjustment => AuditAction::Adjustment,
            AuditActionView::Approval => AuditAction::Approval,
            AuditActionView::RoleChange => AuditAction::RoleChange,
            AuditActionView::StatusChange => AuditAction::StatusChange,
            AuditActionView::Resolution => AuditAction::Resolution,
            AuditActionView::BootstrapAdmin => AuditAction::BootstrapAdmin,
        }
    }
}

impl From<AuditRecord> for AuditRecordView {
    fn from(record: AuditRecord) -> Self {
        let entry = record.entry;
        AuditRecordView {
            seq: record.seq,
            at: record.at,
            actor: entry.actor.to_string(),
            action: entry.action.into(),
            target: entry.target.to_string(),
            before: entry.before,
            after: entry.after,
            reason: entry.reason.map(|reason| reason.to_string()),
            request_id: entry.request_id,
            client: entry.client,
            caused: entry.caused,
            hash: record.hash.to_string(),
            previous: record.previous.to_string(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageView {
    pub items: Vec<AuditRecordView>,
    /// Whether another page follows (then `next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(example = "41", required = true)]
    pub next_cursor: Option<String>,
}

/// Which records to list. Keep the same filters while following `next_cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// `member:<id>` or `operator:<name>`.
    pub actor: Option<String>,
    /// `member:<id>` or `transfer:<id>`.
    pub target: Option<String>,
    pub action: Option<AuditActionView>,
    /// Recorded at or after this time (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Recorded before this time (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// 1 to 100; 20 when absent (the export ignores it).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page (the export ignores it).
    pub cursor: Option<String>,
}

fn invalid_query(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidQuery, "The query string is not valid").detail(detail)
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let actor =
            self.actor.as_deref().map(str::parse).transpose().map_err(|e| invalid_query(format!("actor: {e}")))?;
        let target =
            self.target.as_deref().map(str::parse).transpose().map_err(|e| invalid_query(format!("target: {e}")))?;
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            return Err(invalid_query("since must be before until".into()));
        }
        Ok(AuditFilter { actor, target, action: self.action.map(Into::into), since: self.since, until: self.until })
    }
}

/// The audit log, newest first: every privileged act, by whom, to what, why
/// and from where (admins only).
#[utoipa::path(get, path = "/v1/admin/audit", operation_id = "listAuditRecords", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPageView, description = "a page of audit records, newest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query (a filter is not valid) or invalid_cursor"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/audit")]
pub async fn list_audit_records(
    state: State,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPageView>, ApiError> {
    let filter = query.filter()?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid_query("limit must be between 1 and 100".into()));
    }
    let before = query.cursor.as_deref().map(str::parse::<u64>).transpose().map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::InvalidCursor, "The cursor is not one this API gave")
    })?;
    let page = state.services.audit.page(&filter, before, limit).await.map_err(ApiError::unexpected)?;
    Ok(web::Json(AuditPageView {
        has_more: page.next_before.is_some(),
        next_cursor: page.next_before.map(|seq| seq.to_string()),
        items: page.items.into_iter().map(AuditRecordView::from).collect(),
    }))
}

/// The audit log as CSV, oldest first, with the list's filters (admins
/// only). Streamed: it may be long.
#[utoipa::path(get, path = "/v1/admin/audit/export", operation_id = "exportAuditRecords", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String, description = "a header line (seq, at, actor, action, target, before, after, reason, request_id, client, caused, previous, hash), then one line a record, oldest first"),
        (status = 400, body = crate::problem::Problem, description = "invalid_query: a filter is not valid"),
        (status = 403, body = crate::problem::Problem, description = "forbidden: admins only")))]
#[get("/v1/admin/audit/export")]
pub async fn export_audit_records(
    state: State,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.filter()?;
    let header = csv_line(&CSV_HEADER.map(str::to_owned));
    let batches = futures::stream::unfold(Some(0_u64), move |after| {
        let (state, filter) = (state.clone(), filter.clone());
        async move {
            let after = after?;
            match state.services.audit.after(after, EXPORT_BATCH).await {
                Ok(records) => {
                    let next = (records.len() == EXPORT_BATCH).then(|| records.last().map(|r| r.seq)).flatten();
                    let lines: Vec<u8> = records.iter().filter(|r| filter.lists(r)).flat_map(csv_record).collect();
                    Some((Ok::<_, actix_web::Error>(Bytes::from(lines)), next))
                }
                // The download ends short; the log says why.
                Err(error) => {
                    tracing::error!(%error, "the audit export stopped: the store failed");
                    None
                }
            }
        }
    });
    let body = futures::stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(header)) }).chain(batches);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename("pointshare-audit.csv".into())],
        })
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

const CSV_HEADER: [&str; 13] = [
    "seq",
    "at",
    "actor",
    "action",
    "target",
    "before",
    "after",
    "reason",
    "request_id",
    "client",
    "caused",
    "previous",
    "hash",
];

fn csv_record(record: &AuditRecord) -> Vec<u8> {
    let entry = &record.entry;
    let text = |field: &Option<String>| field.clone().unwrap_or_default();
    csv_line(&[
        record.seq.to_string(),
        record.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        entry.actor.to_string(),
        entry.action.as_str().to_owned(),
        entry.target.to_string(),
        text(&entry.before),
        text(&entry.after),
        entry.reason.as_ref().map(|reason| inert(reason.as_str())).unwrap_or_default(),
        text(&entry.request_id),
        text(&entry.client),
        text(&entry.caused),
        record.previous.to_string(),
        record.hash.to_string(),
    ])
}

/// Free text as a spreadsheet will not run it: a cell opening with `=`, `+`,
/// `-` or `@` is a formula there, so it gets a leading `'`.
fn inert(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() }
}

/// One CSV line, quoted as RFC 4180 says.
fn csv_line(fields: &[String]) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(fields).expect("writing to memory does not fail");
    writer.into_inner().expect("writing to memory does not fail")
}
