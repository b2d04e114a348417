//! After the kills: is every acknowledged job in the cluster exactly once?
//!
//! The ids of jobs only increase, so every job the load created, acknowledged
//! or not, lies between the first and the last acknowledged id. The check
//! lists all of that range (GetJobs with every id, in chunks that keep each
//! reply well under gRPC's 4 MiB message limit) and compares it with what
//! the load was told.

use std::collections::BTreeMap;

use anyhow::bail;
use corral_client::Client;
use corral_proto as wire;

use super::load::Submission;
use crate::corral::bench::report::Json;

/// Job ids per GetJobs call.
const GET_JOBS_IDS_MAX: usize = 5_000;
/// How many offending ids a report names at most.
const NAMED_IDS_MAX: usize = 20;

#[derive(Default)]
pub struct Verification {
    pub acknowledged: usize,
    /// Acknowledged jobs listed once, under the request id they were submitted with.
    pub present_once: usize,
    /// Acknowledged job ids the cluster does not list.
    pub missing: Vec<u32>,
    /// Acknowledged job ids listed under another request id.
    pub mismatched: Vec<u32>,
    /// Job ids listed more than once in the answer.
    pub listed_twice: Vec<u32>,
    /// Job ids acknowledged to two different submissions.
    pub acknowledged_twice: Vec<u32>,
    /// Acknowledged request ids with more than one job: a retry made a second job.
    pub duplicated_requests: Vec<String>,
    /// Jobs in the range that no call was acknowledged for: calls that
    /// failed or timed out although their submission was committed.
    pub unacknowledged_jobs: usize,
}

pub async fn acknowledged_jobs(
    client: &Client,
    submissions: &[Submission],
) -> anyhow::Result<Verification> {
    let acknowledged: Vec<(u32, &str)> = submissions
        .iter()
        .filter_map(|s| s.job_id().map(|id| (id, s.request_id.as_str())))
        .collect();
    let (Some(first), Some(last)) = (
        acknowledged.iter().map(|(id, _)| *id).min(),
        acknowledged.iter().map(|(id, _)| *id).max(),
    ) else {
        bail!("the load had no submission acknowledged at all");
    };
    let listed = list_jobs(client, first, last).await?;
    Ok(compare(&acknowledged, &listed))
}

/// Every job with an id in `first..=last`, as listed (duplicates kept).
async fn list_jobs(client: &Client, first: u32, last: u32) -> anyhow::Result<Vec<wire::Job>> {
    let ids: Vec<u32> = (first..=last).collect();
    let mut jobs = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(GET_JOBS_IDS_MAX) {
        let request = wire::GetJobsRequest {
            job_ids: chunk.to_vec(),
            ..Default::default()
        };
        let reply = client
            .call(request, |mut c, r| async move { c.get_jobs(r).await })
            .await?;
        jobs.extend(reply.jobs);
    }
    Ok(jobs)
}

fn compare(acknowledged: &[(u32, &str)], listed: &[wire::Job]) -> Verification {
    let mut verification = Verification {
        acknowledged: acknowledged.len(),
        ..Verification::default()
    };
    let mut request_by_job: BTreeMap<u32, &str> = BTreeMap::new();
    let mut jobs_by_request: BTreeMap<&str, usize> = BTreeMap::new();
    for job in listed {
        if request_by_job.insert(job.id, &job.request_id).is_some() {
            verification.listed_twice.push(job.id);
        }
        *jobs_by_request.entry(&job.request_id).or_default() += 1;
    }
    let mut acknowledged_to: BTreeMap<u32, &str> = BTreeMap::new();
    for (job_id, request_id) in acknowledged {
        if acknowledged_to.insert(*job_id, request_id).is_some() {
            verification.acknowledged_twice.push(*job_id);
        }
        match request_by_job.get(job_id) {
            None => verification.missing.push(*job_id),
            Some(listed_request) if listed_request != request_id => {
                verification.mismatched.push(*job_id)
            }
            Some(_) if jobs_by_request[request_id] > 1 => verification
                .duplicated_requests
                .push(request_id.to_string()),
            Some(_) => verification.present_once += 1,
        }
    }
    verification.unacknowledged_jobs = request_by_job
        .keys()
        .filter(|id| !acknowledged_to.contains_key(id))
        .count();
    verification
}

impl Verification {
    /// What is wrong, if anything.
    pub fn problem(&self) -> Option<String> {
        let mut problems = Vec::new();
        let mut name = |what: &str, ids: &[String]| {
            if !ids.is_empty() {
                let shown: Vec<&str> = ids.iter().take(NAMED_IDS_MAX).map(String::as_str).collect();
                problems.push(format!("{} {what} ({})", ids.len(), shown.join(", ")));
            }
        };
        let text = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>();
        name("acknowledged jobs missing", &text(&self.missing));
        name(
            "acknowledged jobs under another request id",
            &text(&self.mismatched),
        );
        name("jobs listed twice", &text(&self.listed_twice));
        name(
            "job ids acknowledged twice",
            &text(&self.acknowledged_twice),
        );
        name("request ids with two jobs", &self.duplicated_requests);
        (!problems.is_empty()).then(|| problems.join("; "))
    }

    pub fn describe(&self) -> String {
        match self.problem() {
            None => format!(
                "all {} acknowledged jobs present exactly once ({} more jobs from calls that failed or timed out but committed)",
                self.present_once, self.unacknowledged_jobs
            ),
            Some(problem) => format!(
                "{} of {} acknowledged jobs present exactly once; {problem}",
                self.present_once, self.acknowledged
            ),
        }
    }

    pub fn to_json(&self) -> Json {
        let ids = |ids: &[u32]| Json::Array(ids.iter().map(|id| Json::count(*id)).collect());
        Json::object([
            ("ok", Json::Bool(self.problem().is_none())),
            ("acknowledged", Json::count(self.acknowledged)),
            ("present_once", Json::count(self.present_once)),
            ("missing", ids(&self.missing)),
            ("mismatched", ids(&self.mismatched)),
            ("listed_twice", ids(&self.listed_twice)),
            ("acknowledged_twice", ids(&self.acknowledged_twice)),
            (
                "duplicated_requests",
                Json::Array(self.duplicated_requests.iter().map(Json::text).collect()),
            ),
            ("unacknowledged_jobs", Json::count(self.unacknowledged_jobs)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use corral_proto as wire;

    use super::compare;

    fn job(id: u32, request_id: &str) -> wire::Job {
        wire::Job {
            id,
            request_id: request_id.to_string(),
            ..Default::default()
        }
    }

    #[test]
    fn every_acknowledged_job_present_once_passes() {
        let listed = [job(1, "a"), job(2, "lost-ack"), job(3, "b")];
        let verification = compare(&[(1, "a"), (3, "b")], &listed);
        assert_eq!(verification.problem(), None);
        assert_eq!(
            (verification.present_once, verification.unacknowledged_jobs),
            (2, 1)
        );
    }

    #[test]
    fn missing_mismatched_and_duplicated_jobs_are_named() {
        let listed = [job(1, "a"), job(2, "x"), job(4, "c"), job(5, "c")];
        let verification = compare(&[(1, "a"), (2, "b"), (3, "z"), (4, "c")], &listed);
        assert_eq!(verification.missing, vec![3]);
        assert_eq!(verification.mismatched, vec![2]);
        assert_eq!(verification.duplicated_requests, vec!["c".to_string()]);
        assert_eq!(verification.present_once, 1);
        let problem = verification.problem().unwrap();
        assert!(
            problem.contains("1 acknowledged jobs missing (3)"),
            "{problem}"
        );
    }
}
