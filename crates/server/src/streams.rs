//! `StreamSlots`: how many event streams each member holds open on this
//! replica, so one member cannot hold them all; a slot frees when its
//! stream ends, however it ends.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use pointshare_domain::MemberId;

use crate::telemetry;

/// Open streams per member on this replica.
#[derive(Debug, Default, Clone)]
pub struct StreamSlots(Arc<Mutex<HashMap<MemberId, usize>>>);

/// One member's open stream; its slot frees when the stream ends.
#[derive(Debug)]
pub struct Slot {
    slots: StreamSlots,
    member: MemberId,
    _open: telemetry::Counted,
}

impl StreamSlots {
    pub fn take(&self, member: MemberId, most: usize) -> Option<Slot> {
        let mut open = self.0.lock();
        let count = open.entry(member).or_default();
        if *count >= most {
            return None;
        }
        *count += 1;
        Some(Slot { slots: self.clone(), member, _open: telemetry::event_stream_open() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.0.lock();
        if let Some(count) = open.get_mut(&self.member) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.member);
            }
        }
    }
}
