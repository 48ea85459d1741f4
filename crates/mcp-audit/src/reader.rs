//! Reading a log file line by line with one line of lookahead, and progress reporting.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::AuditError;

/// Progress of a long operation, for drawing a progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Records processed so far.
    pub records: u64,
    /// Bytes processed so far.
    pub bytes: u64,
    /// Bytes in all files of the operation.
    pub total_bytes: u64,
}

/// Calls the progress callback every few thousand records.
pub(crate) struct Meter<'a> {
    pub progress: Progress,
    callback: &'a mut dyn FnMut(Progress),
}

impl<'a> Meter<'a> {
    pub(crate) fn new(files: &[PathBuf], callback: &'a mut dyn FnMut(Progress)) -> Self {
        let total_bytes = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        Self { progress: Progress { records: 0, bytes: 0, total_bytes }, callback }
    }

    pub(crate) fn line(&mut self, bytes: usize) {
        self.progress.records += 1;
        self.progress.bytes += bytes as u64;
        if self.progress.records.is_multiple_of(4096) {
            (self.callback)(self.progress);
        }
    }

    pub(crate) fn report(&mut self) {
        (self.callback)(self.progress);
    }
}

/// One line: its 1-based number, its text (without the newline) and whether a newline ended it.
#[derive(Debug)]
pub(crate) struct RawLine {
    pub number: u64,
    pub text: Result<String, Vec<u8>>,
    pub terminated: bool,
    pub len: usize,
}

/// Lines of a file with one line of lookahead.
pub(crate) struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    next_number: u64,
    peeked: Option<RawLine>,
}

impl Lines {
    pub(crate) fn open(path: &Path) -> Result<Self, AuditError> {
        let f = File::open(path).map_err(|e| AuditError::io(path, "open", e))?;
        Ok(Self {
            path: path.to_owned(),
            reader: BufReader::with_capacity(256 * 1024, f),
            next_number: 1,
            peeked: None,
        })
    }

    fn read(&mut self) -> Result<Option<RawLine>, AuditError> {
        let mut buf = Vec::with_capacity(512);
        let n = self.reader.read_until(b'\n', &mut buf).map_err(|e| AuditError::io(&self.path, "read", e))?;
        if n == 0 {
            return Ok(None);
        }
        let terminated = buf.last() == Some(&b'\n');
        if terminated {
            buf.pop();
        }
        let number = self.next_number;
        self.next_number += 1;
        let text = String::from_utf8(buf).map_err(|e| e.into_bytes());
        Ok(Some(RawLine { number, text, terminated, len: n }))
    }

    /// The next line.
    pub(crate) fn next_line(&mut self) -> Result<Option<RawLine>, AuditError> {
        match self.peeked.take() {
            Some(l) => Ok(Some(l)),
            None => self.read(),
        }
    }

    /// The line after the current one, without consuming it.
    pub(crate) fn peek(&mut self) -> Result<Option<&RawLine>, AuditError> {
        if self.peeked.is_none() {
            self.peeked = self.read()?;
        }
        Ok(self.peeked.as_ref())
    }
}
