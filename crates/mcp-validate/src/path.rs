//! Resolving user-supplied paths inside configured resource roots.
//!
//! [`ResourceRoots::resolve`] refuses `..` components, NUL bytes, absolute paths outside the
//! roots, and symbolic links (anywhere along the path) that lead outside. The returned path is
//! canonical (links resolved). What does not exist yet is resolved through its deepest existing
//! ancestor; a file created later at the returned path is inside a root unless someone swaps
//! in a link between the check and the use, so keep the roots free of untrusted writers.
//!
//! ```
//! use mcp_validate::{PathError, ResourceRoots};
//!
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
//! let roots = ResourceRoots::new([dir.path()]).unwrap();
//! let p = roots.resolve("notes.txt").unwrap();
//! assert!(p.ends_with("notes.txt"));
//! assert!(roots.resolve("new/file.txt").is_ok());
//! assert_eq!(roots.resolve("../etc/passwd"), Err(PathError::ParentComponent));
//! assert_eq!(roots.resolve("/etc/passwd"), Err(PathError::OutsideRoots));
//! ```

use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// No roots were configured.
    #[error("no resource roots are configured")]
    NoRoots,
    /// A configured root does not exist or cannot be canonicalized.
    #[error("resource root {root} is unusable: {reason}")]
    BadRoot {
        /// The configured root.
        root: PathBuf,
        /// The OS error, rendered.
        reason: String,
    },
    /// The path is empty.
    #[error("path is empty")]
    Empty,
    /// The path contains a NUL byte.
    #[error("path contains a NUL byte")]
    Nul,
    /// The path contains a `..` component.
    #[error("path contains a '..' component")]
    ParentComponent,
    /// The path (after resolving links) is not inside any root.
    #[error("path is outside the allowed resource roots")]
    OutsideRoots,
    /// A component is a symbolic link whose target does not exist (it could be created outside).
    #[error("path goes through a dangling symbolic link")]
    DanglingSymlink,
    /// The file system refused to resolve the path (permissions, too many links, ...).
    #[error("path cannot be resolved: {0}")]
    Unresolvable(String),
}

impl PathError {
    /// A stable short name for events.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::NoRoots => "no_roots",
            Self::BadRoot { .. } => "bad_root",
            Self::Empty => "empty",
            Self::Nul => "nul_byte",
            Self::ParentComponent => "parent_component",
            Self::OutsideRoots => "outside_roots",
            Self::DanglingSymlink => "dangling_symlink",
            Self::Unresolvable(_) => "unresolvable",
        }
    }
}

/// Canonicalized directories user paths must stay inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceRoots {
    roots: Vec<PathBuf>,
}

impl ResourceRoots {
    /// Canonicalizes each root (each must exist).
    ///
    /// # Errors
    /// [`PathError::NoRoots`] for an empty list, [`PathError::BadRoot`] for a root that cannot
    /// be canonicalized.
    pub fn new<I, P>(roots: I) -> Result<Self, PathError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<Path>,
    {
        let mut out = Vec::new();
        for root in roots {
            let root = root.as_ref();
            let canonical = root
                .canonicalize()
                .map_err(|e| PathError::BadRoot { root: root.to_path_buf(), reason: e.to_string() })?;
            out.push(canonical);
        }
        if out.is_empty() {
            return Err(PathError::NoRoots);
        }
        Ok(Self { roots: out })
    }

    /// The canonical roots; relative paths resolve against the first.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Resolves `user_path` (relative to the first root, or absolute) to a canonical path inside
    /// a root.
    ///
    /// # Errors
    /// [`PathError`] when the path is empty, has a NUL byte or a `..` component, ends outside
    /// every root (directly or through a link), or goes through a dangling link.
    pub fn resolve(&self, user_path: &str) -> Result<PathBuf, PathError> {
        if user_path.is_empty() {
            return Err(PathError::Empty);
        }
        if user_path.contains('\0') {
            return Err(PathError::Nul);
        }
        let path = Path::new(user_path);
        let mut joined = if path.is_absolute() { PathBuf::new() } else { self.roots[0].clone() };
        for component in path.components() {
            match component {
                Component::ParentDir => return Err(PathError::ParentComponent),
                Component::CurDir => {}
                Component::Prefix(_) | Component::RootDir | Component::Normal(_) => joined.push(component),
            }
        }
        let resolved = canonicalize_existing_prefix(&joined)?;
        if self.roots.iter().any(|root| resolved.starts_with(root)) {
            Ok(resolved)
        } else {
            Err(PathError::OutsideRoots)
        }
    }
}

/// Canonicalizes the deepest existing ancestor of `path` and appends the missing rest. A
/// missing component that is itself a (dangling) link is refused.
fn canonicalize_existing_prefix(path: &Path) -> Result<PathBuf, PathError> {
    let mut missing: Vec<&std::ffi::OsStr> = Vec::new();
    let mut current = path;
    loop {
        match current.canonicalize() {
            Ok(mut base) => {
                base.extend(missing.iter().rev());
                return Ok(base);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if current.symlink_metadata().is_ok() {
                    return Err(PathError::DanglingSymlink);
                }
                let (Some(parent), Some(name)) = (current.parent(), current.file_name()) else {
                    return Err(PathError::Unresolvable("no existing ancestor".into()));
                };
                missing.push(name);
                current = parent;
            }
            Err(e) => return Err(PathError::Unresolvable(e.kind().to_string())),
        }
    }
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
