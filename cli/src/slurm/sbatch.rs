//! `sbatch`: parse, read the script, submit, print `Submitted batch job N`.

use std::io::Read;
use std::path::{Path, PathBuf};

use corral_proto as wire;
use corral_slurm::sbatch::{
    build_request, invalid_partition_error, parse_command_line, submission_failed_error,
    unable_to_open_error, BatchScript, Clock, Invocation, ScriptSource,
};
use corral_slurm::SlurmError;

use super::connection::{call_failed, connect, host_name, local_utc_offset_seconds, now_ms};

const COMMAND: &str = "sbatch";

pub fn run(args: &[String]) -> Result<u8, SlurmError> {
    let command_line = match parse_command_line(args)? {
        Invocation::Print(text) => {
            print!("{text}");
            return Ok(0);
        }
        Invocation::Submit(command_line) => command_line,
    };
    let script = match command_line.script_source() {
        ScriptSource::Wrapped(script) => script,
        ScriptSource::File(path) => BatchScript::from_bytes(&read_script(&path)?)?,
        ScriptSource::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|_| unable_to_open_error("stdin"))?;
            BatchScript::from_bytes(&bytes)?
        }
    };
    let environment: Vec<(String, String)> = std::env::vars().collect();
    // `--begin` is resolved here, against this machine's clock and zone.
    let clock = Clock {
        now_ms: now_ms(0),
        utc_offset_seconds: local_utc_offset_seconds(),
    };
    let request = build_request(&command_line, &environment, script, clock)?;
    for warning in &request.warnings {
        eprintln!("{warning}");
    }
    let submit_dir = std::env::current_dir()
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_string());
    let spec = request.to_job_spec(&submit_dir, environment, &host_name());
    let job_id = submit(wire::SubmitJobRequest {
        request_id: new_request_id()?,
        spec: Some(wire::JobSpec::from(&spec)),
    })?;
    if let Some(message) = request.submitted_message(job_id) {
        print!("{message}");
    }
    if request.wait {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        return wait_for_end(job_id);
    }
    Ok(0)
}

/// How often `-W` looks at the job.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// `-W`: polls until the job, or every task of an array, has ended, and
/// returns its exit code (the highest of the tasks'); a job ended by a
/// signal gives 128 + the signal, as a shell reports it.
fn wait_for_end(job_id: u32) -> Result<u8, SlurmError> {
    loop {
        // A client per look: its connections belong to the runtime `fetch`
        // makes for that look.
        let client = connect(COMMAND)?;
        let query = wire::GetJobsRequest {
            job_ids: vec![job_id],
            ..Default::default()
        };
        let error_prefix = format!("{COMMAND}: error: ");
        let (jobs, _) = super::jobs::fetch(COMMAND, &client, query, &error_prefix)?;
        if jobs.iter().all(|job| job.state.is_terminal()) {
            let code = |job: &corral_state::Job| match job.exit_status.signal {
                0 => job.exit_status.code,
                signal => 128u8.saturating_add(signal),
            };
            return Ok(jobs.iter().map(code).max().unwrap_or(0));
        }
        std::thread::sleep(WAIT_POLL);
    }
}

/// Submits, retrying through failovers with the same request id, and turns
/// a rejection into Slurm's message.
fn submit(submission: wire::SubmitJobRequest) -> Result<u32, SlurmError> {
    let client = connect(COMMAND)?;
    let runtime = super::runtime(COMMAND)?;
    let reply = runtime
        .block_on(client.call(submission, |mut c, r| async move { c.submit_job(r).await }))
        .map_err(|error| {
            call_failed(
                COMMAND,
                format!("{COMMAND}: error: Batch job submission failed: "),
                &error,
            )
        })?;
    use wire::rejection::Kind;
    match reply.result {
        Some(wire::submit_job_reply::Result::JobId(job_id)) => Ok(job_id),
        Some(wire::submit_job_reply::Result::Rejection(rejection)) => {
            Err(match Kind::try_from(rejection.kind) {
                Ok(Kind::InvalidPartition) => invalid_partition_error(&rejection.name),
                _ => submission_failed_error(&rejection.message),
            })
        }
        None => Err(submission_failed_error("Unexpected message received")),
    }
}

/// A fresh request id: 128 random bits, hex.
fn new_request_id() -> Result<String, SlurmError> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).map_err(|_| {
        SlurmError::command_error(COMMAND, "the system random number generator failed", 1)
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads the script as sbatch finds it: the path as given, else a bare name
/// looked up along `PATH`.
fn read_script(path: &str) -> Result<Vec<u8>, SlurmError> {
    let candidates: Vec<PathBuf> = if path.contains('/') || Path::new(path).exists() {
        vec![PathBuf::from(path)]
    } else {
        std::env::var_os("PATH")
            .map(|dirs| {
                std::env::split_paths(&dirs)
                    .map(|dir| dir.join(path))
                    .collect()
            })
            .unwrap_or_default()
    };
    candidates
        .iter()
        .find_map(|candidate| std::fs::read(candidate).ok())
        .ok_or_else(|| unable_to_open_error(path))
}
