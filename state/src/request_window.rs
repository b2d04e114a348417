//! The window of recent submission request ids, so that a retried submission
//! returns the job it already created instead of creating a second one.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::job::{JobId, RequestId};

/// How long a request id is remembered after its submission.
pub const REQUEST_ID_WINDOW_MS: u64 = 15 * 60 * 1000;
/// How many request ids are remembered at most; the oldest are forgotten first.
pub const REQUEST_IDS_MAX: usize = 500_000;

/// Request ids of recent submissions, forgotten by age (`now_ms` stamped by
/// the leader) and by count, so memory stays bounded at any submit rate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestWindow {
    job_by_request: BTreeMap<RequestId, JobId>,
    /// (submit time, request id) in submission order.
    arrivals: VecDeque<(u64, RequestId)>,
}

impl RequestWindow {
    pub fn get(&self, request_id: &RequestId) -> Option<JobId> {
        self.job_by_request.get(request_id).copied()
    }

    pub fn insert(&mut self, request_id: RequestId, job_id: JobId, now_ms: u64) {
        self.job_by_request.insert(request_id.clone(), job_id);
        self.arrivals.push_back((now_ms, request_id));
    }

    /// Forgets request ids older than the window, and the oldest beyond the count limit.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some((arrived_ms, _)) = self.arrivals.front() {
            let too_old = now_ms.saturating_sub(*arrived_ms) > REQUEST_ID_WINDOW_MS;
            let too_many = self.arrivals.len() > REQUEST_IDS_MAX;
            if !too_old && !too_many {
                break;
            }
            let (_, request_id) = self.arrivals.pop_front().expect("front exists");
            self.job_by_request.remove(&request_id);
        }
    }

    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.job_by_request.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&RequestId, JobId)> {
        self.job_by_request.iter().map(|(r, j)| (r, *j))
    }

    pub(crate) fn arrivals_len(&self) -> usize {
        self.arrivals.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> RequestId {
        RequestId(s.to_string())
    }

    #[test]
    fn forgets_by_age() {
        let mut window = RequestWindow::default();
        window.insert(id("a"), 1, 0);
        window.insert(id("b"), 2, 1_000);
        window.expire(REQUEST_ID_WINDOW_MS + 500);
        assert_eq!(window.get(&id("a")), None);
        assert_eq!(window.get(&id("b")), Some(2));
    }
}
