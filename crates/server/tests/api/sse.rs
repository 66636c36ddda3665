//! A Server-Sent Events reader for tests: opens a stream and yields its
//! events as a browser's EventSource would parse them.

use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: Option<String>,
    pub name: String,
    pub data: Value,
}

#[derive(Debug)]
pub struct EventStream {
    response: Response,
    buffer: String,
    /// Comment lines seen so far (heartbeats).
    pub comments: usize,
}

impl EventStream {
    /// Opens `url` with `token`, resuming after `last_event_id` if given;
    /// the answer if it is not a stream.
    pub async fn open(url: &str, token: &str, last_event_id: Option<&str>) -> Result<EventStream, (StatusCode, Value)> {
        let client = Client::builder().build().expect("a client");
        let mut request = client.get(url).bearer_auth(token).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("the server answers");
        if response.status() != StatusCode::OK {
            let status = response.status();
            return Err((status, response.json().await.unwrap_or(Value::Null)));
        }
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Ok(EventStream { response, buffer: String::new(), comments: 0 })
    }

    /// The next event, or `None` if the stream ended; panics after `patience`.
    pub async fn next(&mut self, patience: Duration) -> Option<Event> {
        tokio::time::timeout(patience, self.read()).await.expect("an event in time")
    }

    /// Reads for `period`, expecting no event (heartbeats are counted).
    pub async fn idle(&mut self, period: Duration) {
        if let Ok(event) = tokio::time::timeout(period, self.read()).await {
            panic!("expected no event, got {event:?}");
        }
    }

    async fn read(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut name, mut data) = (None, "message".to_owned(), String::new());
                let mut comment = false;
                for line in block.lines() {
                    if line.starts_with(':') {
                        comment = true;
                    } else if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_owned());
                    } else if let Some(value) = line.strip_prefix("event: ") {
                        value.clone_into(&mut name);
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data.push_str(value);
                    }
                }
                if comment && data.is_empty() {
                    self.comments += 1;
                    continue;
                }
                if data.is_empty() {
                    continue;
                }
                let data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(Event { id, name, data });
            }
            let chunk = self.response.chunk().await.ok()??;
            self.buffer.push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }
}
