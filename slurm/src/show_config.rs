//! `scontrol show config` (`slurm_print_ctl_conf`): `Configuration data as
//! of TIME`, then one `Key = value` line per key (the key padded to 23
//! columns), in Slurm's order. Only the keys Corral has a value for are
//! printed; a key Corral has no notion of (plugins, MPI, prolog, ...) is
//! left out rather than given an invented value. The caller adds the blank
//! line and the `Slurmctld(...) at ... is UP` lines after it, as scontrol
//! does.
//!
//! Printed: `ClusterName`, `FirstJobId`, `KillWait`, `MaxArraySize`,
//! `MinJobAge`, `SlurmctldHost[N]` (one per controller), `SlurmctldPort`
//! (when every controller uses the same port), `SlurmdTimeout`,
//! `SLURM_CONF` (Corral's configuration file), `SLURM_VERSION`.

/// One controller as the configuration names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControllerView {
    /// The name `scontrol ping` shows.
    pub name: String,
    /// `host:port` where it serves clients.
    pub address: String,
}

/// What `show config` prints, read from the configuration and the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigView {
    pub cluster_name: String,
    pub controllers: Vec<ControllerView>,
    pub first_job_id: u32,
    pub kill_wait_s: u64,
    /// Array indices must be below this.
    pub max_array_size: u32,
    pub min_job_age_s: u64,
    pub slurmd_timeout_s: u64,
    /// The configuration file read.
    pub config_path: String,
    /// The time of the report and the zone it is printed in.
    pub now_ms: u64,
    pub utc_offset_seconds: i32,
}

/// The key column's width (`"%-23s = %s"`).
const KEY_WIDTH: usize = 23;

fn split_address(address: &str) -> (&str, Option<&str>) {
    match address.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => (
            host.trim_start_matches('[').trim_end_matches(']'),
            Some(port),
        ),
        _ => (address, None),
    }
}

/// `SlurmctldHost[N]`: `name(host)`, or `name` alone when the name is the
/// host.
fn controller_text(controller: &ControllerView) -> String {
    let (host, _) = split_address(&controller.address);
    if host == controller.name {
        controller.name.clone()
    } else {
        format!("{}({host})", controller.name)
    }
}

/// The whole report, up to (not including) the blank line before the
/// controllers' status.
pub fn show_config(view: &ConfigView) -> String {
    let mut entries: Vec<(String, String)> = vec![
        ("ClusterName".into(), view.cluster_name.clone()),
        ("FirstJobId".into(), view.first_job_id.to_string()),
        ("KillWait".into(), format!("{} sec", view.kill_wait_s)),
        ("MaxArraySize".into(), view.max_array_size.to_string()),
        ("MinJobAge".into(), format!("{} sec", view.min_job_age_s)),
    ];
    for (index, controller) in view.controllers.iter().enumerate() {
        entries.push((
            format!("SlurmctldHost[{index}]"),
            controller_text(controller),
        ));
    }
    let ports: Vec<Option<&str>> = view
        .controllers
        .iter()
        .map(|c| split_address(&c.address).1)
        .collect();
    if let Some(Some(port)) = ports.first() {
        if ports.iter().all(|p| p == &Some(*port)) {
            entries.push(("SlurmctldPort".into(), port.to_string()));
        }
    }
    entries.extend([
        (
            "SlurmdTimeout".into(),
            format!("{} sec", view.slurmd_timeout_s),
        ),
        ("SLURM_CONF".into(), view.config_path.clone()),
        ("SLURM_VERSION".into(), crate::SLURM_VERSION.to_string()),
    ]);
    let mut out = format!(
        "Configuration data as of {}\n",
        crate::time::format_timestamp(view.now_ms, view.utc_offset_seconds)
    );
    for (key, value) in entries {
        out.push_str(&format!("{key:<KEY_WIDTH$} = {value}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(addresses: &[(&str, &str)]) -> ConfigView {
        ConfigView {
            cluster_name: "lab".into(),
            controllers: addresses
                .iter()
                .map(|(name, address)| ControllerView {
                    name: name.to_string(),
                    address: address.to_string(),
                })
                .collect(),
            first_job_id: 1,
            kill_wait_s: 30,
            max_array_size: 1001,
            min_job_age_s: 300,
            slurmd_timeout_s: 300,
            config_path: "/etc/corral/corral.toml".into(),
            now_ms: 0,
            utc_offset_seconds: 0,
        }
    }

    #[test]
    fn controllers_and_a_shared_port() {
        let text = show_config(&view(&[("c1", "10.0.0.1:7001"), ("c2", "10.0.0.2:7001")]));
        assert!(text.contains("SlurmctldHost[0]        = c1(10.0.0.1)\n"));
        assert!(text.contains("SlurmctldHost[1]        = c2(10.0.0.2)\n"));
        assert!(text.contains("SlurmctldPort           = 7001\n"));
        let text = show_config(&view(&[("c1", "h1:7001"), ("c2", "h2:7002")]));
        assert!(!text.contains("SlurmctldPort"));
        let text = show_config(&view(&[("vm", "vm"), ("x", "[::1]:7")]));
        assert!(text.contains("SlurmctldHost[0]        = vm\n"));
        assert!(text.contains("SlurmctldHost[1]        = x(::1)\n"));
        assert!(!text.contains("SlurmctldPort"));
        assert!(text.starts_with("Configuration data as of 1970-01-01T00:00:00\n"));
    }
}
