//! The launcher's errors, each one line: a step that failed (naming the path or setting) and why, a spec the
//! launcher refuses, or the init's own report.

use std::io;

/// A failed step: what was being done (naming the path or setting) and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct Failure {
    what: String,
    #[source]
    source: io::Error,
    /// The step was finding or executing the program.
    program: bool,
}

impl Failure {
    pub fn new(what: String, source: io::Error) -> Failure {
        Failure {
            what,
            source,
            program: false,
        }
    }

    /// Finding or executing `program` failed.
    pub fn exec(program: &str, source: io::Error) -> Failure {
        Failure {
            what: format!("exec {program}"),
            source,
            program: true,
        }
    }

    /// Whether the program was not there (nor an interpreter it names): exit code 127 rather than 126 for a
    /// command that could not be started, as a shell tells the two apart. A missing working directory is not
    /// a missing program.
    pub fn program_not_found(&self) -> bool {
        self.program && self.source.kind() == io::ErrorKind::NotFound
    }

    /// The exit code a shell gives a program it could not start: 127 not found, 126 not runnable; None for a
    /// failure of any other step (the launch's, 125).
    pub fn exit_code(&self) -> Option<i32> {
        match (self.program, self.program_not_found()) {
            (true, true) => Some(127),
            (true, false) => Some(126),
            (false, _) => None,
        }
    }

    /// This failure as the init reports it (`create.rs`): its text, after its exit code when it has one, in
    /// the form [`LaunchError::from_init`] reads.
    pub fn report(&self) -> String {
        match self.exit_code() {
            Some(code) => format!("{EXIT_MARK}{code} {self}"),
            None => self.to_string(),
        }
    }

    /// `r` with the step `what` named in its error.
    pub fn at<T>(what: impl FnOnce() -> String, r: io::Result<T>) -> Result<T, Failure> {
        r.map_err(|e| Failure::new(what(), e))
    }
}

/// Errors of a launch, each one line.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The spec asks for something this launcher does not do, or says it wrongly.
    #[error("config.json: {0}")]
    Spec(String),
    #[error(transparent)]
    Os(#[from] Failure),
    /// The init reported a failure (its step and error), or died without a word.
    #[error("container init: {0}")]
    Init(String),
    /// The init could not exec the program: not found (127) or not runnable (126).
    #[error("container init: {why}")]
    Exec { code: i32, why: String },
}

/// Opens an init's report of a program it could not start: the exit code follows, then a space.
const EXIT_MARK: char = '#';

impl LaunchError {
    /// The failure an init reported ([`Failure::report`]).
    pub fn from_init(said: &str) -> LaunchError {
        let coded = said
            .strip_prefix(EXIT_MARK)
            .and_then(|r| r.split_once(' '))
            .and_then(|(code, why)| Some((code.parse().ok()?, why)));
        match coded {
            Some((code, why)) => LaunchError::Exec {
                code,
                why: why.to_string(),
            },
            None => LaunchError::Init(said.to_string()),
        }
    }

    /// 127 or 126 when the program could not be started, as a shell says; None for any other failure.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            LaunchError::Exec { code, .. } => Some(*code),
            LaunchError::Os(f) => f.exit_code(),
            _ => None,
        }
    }
}

pub fn unsupported(what: &str) -> LaunchError {
    LaunchError::Spec(format!("{what} is not supported by ucr's launcher"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_init_reports_the_exit_code_of_a_program_it_could_not_start() {
        let missing = Failure::exec("/bin/x", io::Error::from_raw_os_error(libc::ENOENT));
        let refused = Failure::exec("/bin/x", io::Error::from_raw_os_error(libc::EACCES));
        let cwd = Failure::new("cwd /w".into(), io::Error::from_raw_os_error(libc::ENOENT));
        for (f, code) in [(&missing, Some(127)), (&refused, Some(126)), (&cwd, None)] {
            let e = LaunchError::from_init(&f.report());
            assert_eq!(e.exit_code(), code, "{e}");
            assert_eq!(e.to_string(), format!("container init: {f}"));
        }
        // Any other text is the init's own words, whatever it starts with.
        let e = LaunchError::from_init("#mount /proc: denied");
        assert_eq!(
            (e.exit_code(), e.to_string().as_str()),
            (None, "container init: #mount /proc: denied")
        );
    }
}
