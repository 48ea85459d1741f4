//! Building a process command from arguments without a shell.
//!
//! Every argument reaches the program as one `argv` entry: no shell parses it, so quotes,
//! `;`, `|`, `$(...)` and globs are inert. What remains dangerous is an argument the program
//! reads as an option (`--output=/etc/passwd`); [`Argv::user_arg`] refuses a leading `-`
//! unless [`Argv::end_of_options`] (`--`) came first. Do not use this to run a shell
//! (`sh -c`) with user text: that brings the shell back.
//!
//! ```
//! use mcp_validate::{Argv, ArgvError};
//!
//! let cmd = Argv::new("grep").arg("-n").end_of_options().user_arg("$(rm -rf /); echo").user_arg("-v").command().unwrap();
//! let args: Vec<_> = cmd.get_args().collect();
//! assert_eq!(args, ["-n", "--", "$(rm -rf /); echo", "-v"]);
//!
//! assert_eq!(Argv::new("ls").user_arg("--all").command().unwrap_err(), ArgvError::LeadingDash { index: 0 });
//! assert_eq!(Argv::new("ls").arg("a\0b").command().unwrap_err(), ArgvError::Nul { index: 0 });
//! ```

use std::ffi::{OsStr, OsString};
use std::process::Command;

/// Why an argument vector was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgvError {
    /// The program name is empty.
    #[error("program name is empty")]
    EmptyProgram,
    /// The program name contains a NUL byte.
    #[error("program name contains a NUL byte")]
    NulInProgram,
    /// An argument contains a NUL byte.
    #[error("argument {index} contains a NUL byte")]
    Nul {
        /// Position among the arguments (0 = first after the program).
        index: usize,
    },
    /// A user argument starts with `-` and no `--` came before it.
    #[error("argument {index} starts with '-' and could be read as an option; add end_of_options() first")]
    LeadingDash {
        /// Position among the arguments.
        index: usize,
    },
}

impl ArgvError {
    /// A stable short name for events.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::EmptyProgram => "empty_program",
            Self::NulInProgram | Self::Nul { .. } => "nul_byte",
            Self::LeadingDash { .. } => "leading_dash",
        }
    }
}

/// A program and its arguments, checked as they are added; the first problem is reported by
/// [`command`](Self::command).
#[derive(Clone, Debug)]
#[must_use]
pub struct Argv {
    program: OsString,
    args: Vec<OsString>,
    options_ended: bool,
    error: Option<ArgvError>,
}

impl Argv {
    /// Starts an argument vector for `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref().to_os_string();
        let error = if program.is_empty() {
            Some(ArgvError::EmptyProgram)
        } else if has_nul(&program) {
            Some(ArgvError::NulInProgram)
        } else {
            None
        };
        Self { program, args: Vec::new(), options_ended: false, error }
    }

    /// Adds a trusted argument (an option the tool author chose). Only NUL bytes are refused.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.push(arg.as_ref(), false);
        self
    }

    /// Adds trusted arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.push(a.as_ref(), false);
        }
        self
    }

    /// Adds `--`: later arguments are operands, never options, for programs that follow the
    /// POSIX convention.
    pub fn end_of_options(mut self) -> Self {
        self.args.push(OsString::from("--"));
        self.options_ended = true;
        self
    }

    /// Adds an argument that came from a user: NUL bytes are refused, and so is a leading `-`
    /// unless [`end_of_options`](Self::end_of_options) was called before.
    pub fn user_arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.push(arg.as_ref(), true);
        self
    }

    /// Adds arguments that came from a user (see [`user_arg`](Self::user_arg)).
    pub fn user_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.push(a.as_ref(), true);
        }
        self
    }

    fn push(&mut self, arg: &OsStr, from_user: bool) {
        let index = self.args.len();
        if self.error.is_none() {
            if has_nul(arg) {
                self.error = Some(ArgvError::Nul { index });
            } else if from_user && !self.options_ended && arg.as_encoded_bytes().first() == Some(&b'-') {
                self.error = Some(ArgvError::LeadingDash { index });
            }
        }
        self.args.push(arg.to_os_string());
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.program
    }

    /// The arguments added so far.
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// A `std::process::Command` for the program and arguments (environment, working directory
    /// and stdio left for the caller to set).
    ///
    /// # Errors
    /// The first [`ArgvError`] met while building.
    pub fn command(&self) -> Result<Command, ArgvError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        Ok(cmd)
    }

    /// A `tokio::process::Command` (cargo feature `tokio`).
    ///
    /// # Errors
    /// As [`command`](Self::command).
    #[cfg(feature = "tokio")]
    pub fn tokio_command(&self) -> Result<tokio::process::Command, ArgvError> {
        self.command().map(tokio::process::Command::from)
    }
}

fn has_nul(s: &OsStr) -> bool {
    s.as_encoded_bytes().contains(&0)
}

#[cfg(test)]
#[path = "argv_tests.rs"]
mod tests;
