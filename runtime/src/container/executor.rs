//! The last step inside the container's init: exec the task. Mesos' `shell: false` with a `value` execs `value`
//! with `arguments` as the *whole* argv, so argv[0] may differ from the program (busybox applets rely on it). OCI
//! `process.args` cannot say that (args[0] is both), so the bundle carries the program in the `ucr.program`
//! annotation and this executor calls execv(program, args). The program was already looked up and checked inside
//! the rootfs before launch (exit 127/126 come from there), so validation here only covers the default case.

use std::ffi::CString;

use libcontainer::oci_spec::runtime::Spec;
use libcontainer::workload::default::DefaultExecutor;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};

/// The annotation naming the program when it differs from args[0].
pub const PROGRAM_ANNOTATION: &str = "ucr.program";

#[derive(Clone, Default)]
pub struct ProgramExecutor;

fn program(spec: &Spec) -> Option<String> {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(PROGRAM_ANNOTATION).cloned())
}

impl Executor for ProgramExecutor {
    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let Some(prog) = program(spec) else {
            return DefaultExecutor {}.exec(spec);
        };
        let args = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().as_ref())
            .ok_or(ExecutorError::InvalidArg)?;
        let c = |s: &str| CString::new(s.as_bytes()).map_err(|_| ExecutorError::InvalidArg);
        let path = c(&prog)?;
        let argv = args.iter().map(|a| c(a)).collect::<Result<Vec<_>, _>>()?;
        // execv keeps the environment libcontainer set up from the spec.
        let err = nix::unistd::execv(&path, &argv).err();
        Err(ExecutorError::Execution(
            format!(
                "executing {prog}: {}",
                err.map(|e| e.to_string()).unwrap_or_default()
            )
            .into(),
        ))
    }

    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        match program(spec) {
            Some(_) => Ok(()),
            None => DefaultExecutor {}.validate(spec),
        }
    }
}
