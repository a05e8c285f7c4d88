//! A container's end as Mesos reports it (`WAIT_CONTAINER`): the raw wait status, the TASK_* state, the reason,
//! a message, the limitation that ended it, and the exit code a CLI reports.

use serde::{Deserialize, Serialize};

/// Mesos termination (`WAIT_CONTAINER` response).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Termination {
    /// Raw wait status (256 = exit code 1; 9 = killed by SIGKILL); absent when the task never ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// TASK_FINISHED, TASK_FAILED or TASK_KILLED.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limitation: Option<serde_json::Value>,
    /// Mesos `TaskStatus.healthy` on the last status: false when the health checks had the task killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    /// What `ucr run`/`ucr wait` exit with: the task's code, 128+signal, or 125/126/127 when it never ran.
    pub code: i32,
}

impl Termination {
    /// From a raw wait status; `killed` says a kill was asked for.
    pub fn from_wait_status(status: i32, killed: bool) -> Termination {
        let (code, message) = if libc::WIFEXITED(status) {
            let c = libc::WEXITSTATUS(status);
            (c, format!("Command exited with status {c}"))
        } else if libc::WIFSIGNALED(status) {
            let s = libc::WTERMSIG(status);
            (
                128 + s,
                format!("Command terminated with signal {}", signal_name(s)),
            )
        } else {
            (125, format!("Command ended with wait status {status}"))
        };
        let state = if killed {
            "TASK_KILLED"
        } else if code == 0 {
            "TASK_FINISHED"
        } else {
            "TASK_FAILED"
        };
        Termination {
            exit_status: Some(status),
            state: state.into(),
            reason: None,
            message,
            limitation: None,
            healthy: None,
            code,
        }
    }

    /// The task was ended for exceeding a limit (Mesos `ContainerLimitation`): TASK_FAILED with the
    /// limitation's reason, its message first, and the limited resources.
    pub fn limited(&mut self, l: ucr_isolators::Limitation) {
        self.state = "TASK_FAILED".into();
        self.reason = Some(l.reason);
        self.message = format!("{}; {}", l.message, self.message);
        self.limitation = Some(serde_json::json!({ "resources": l.resources }));
    }

    /// The task was killed because its health checks failed (`why`, with the last failure's message): the
    /// kill policy's TASK_KILLED, healthy false, and the reason a health status change gives in Mesos.
    pub fn unhealthy(&mut self, why: String) {
        self.state = "TASK_KILLED".into();
        self.healthy = Some(false);
        self.reason = Some("REASON_TASK_HEALTH_CHECK_STATUS_UPDATED".into());
        self.message = format!("{why}; {}", self.message);
    }

    /// The launch failed before the task ran.
    pub fn launch_failed(message: String, code: i32) -> Termination {
        Termination {
            exit_status: None,
            state: "TASK_FAILED".into(),
            reason: Some("REASON_CONTAINER_LAUNCH_FAILED".into()),
            message,
            limitation: None,
            healthy: None,
            code,
        }
    }
}

pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => sig.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_maps_to_mesos_states() {
        let t = Termination::from_wait_status(0, false);
        assert_eq!((t.state.as_str(), t.code), ("TASK_FINISHED", 0));
        let t = Termination::from_wait_status(256, false);
        assert_eq!((t.state.as_str(), t.code), ("TASK_FAILED", 1));
        let t = Termination::from_wait_status(9, true);
        assert_eq!((t.state.as_str(), t.code), ("TASK_KILLED", 137));
        assert!(t.message.contains("SIGKILL"), "{}", t.message);
    }
}
