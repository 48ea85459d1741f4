use std::fs;

use super::*;

fn setup() -> (tempfile::TempDir, tempfile::TempDir, ResourceRoots) {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    fs::create_dir(root.path().join("docs")).expect("mkdir");
    fs::write(root.path().join("docs/a.txt"), "a").expect("write");
    fs::write(outside.path().join("secret.txt"), "s").expect("write");
    let roots = ResourceRoots::new([root.path()]).expect("roots");
    (root, outside, roots)
}

#[test]
fn inside_paths_resolve_to_canonical_paths() {
    let (root, _outside, roots) = setup();
    let canonical = root.path().canonicalize().unwrap();
    assert_eq!(roots.resolve("docs/a.txt").unwrap(), canonical.join("docs/a.txt"));
    assert_eq!(roots.resolve("./docs/./a.txt").unwrap(), canonical.join("docs/a.txt"));
    assert_eq!(roots.resolve("docs/new/deeper.txt").unwrap(), canonical.join("docs/new/deeper.txt"));
    let absolute = canonical.join("docs/a.txt");
    assert_eq!(roots.resolve(absolute.to_str().unwrap()).unwrap(), absolute);
}

#[test]
fn traversal_nul_and_outside_paths_are_refused() {
    let (root, outside, roots) = setup();
    assert_eq!(roots.resolve("../x"), Err(PathError::ParentComponent));
    assert_eq!(roots.resolve("docs/../../x"), Err(PathError::ParentComponent));
    assert_eq!(roots.resolve("docs/a.txt\0.png"), Err(PathError::Nul));
    assert_eq!(roots.resolve(""), Err(PathError::Empty));
    assert_eq!(roots.resolve("/etc/passwd"), Err(PathError::OutsideRoots));
    let secret = outside.path().join("secret.txt");
    assert_eq!(roots.resolve(secret.to_str().unwrap()), Err(PathError::OutsideRoots));
    // A sibling directory whose name starts with the root's name is not inside it.
    let sibling = format!("{}-evil/x", root.path().display());
    assert_eq!(roots.resolve(&sibling), Err(PathError::OutsideRoots));
    assert_eq!(PathError::OutsideRoots.rule(), "outside_roots");
}

#[cfg(unix)]
#[test]
fn symlink_escapes_are_refused() {
    use std::os::unix::fs::symlink;
    let (root, outside, roots) = setup();
    symlink(outside.path(), root.path().join("link_dir")).unwrap();
    symlink(outside.path().join("secret.txt"), root.path().join("link_file")).unwrap();
    symlink(outside.path().join("not-yet"), root.path().join("dangling")).unwrap();
    symlink(root.path().join("docs/a.txt"), root.path().join("inner_link")).unwrap();
    assert_eq!(roots.resolve("link_dir/secret.txt"), Err(PathError::OutsideRoots));
    assert_eq!(roots.resolve("link_dir/new-file"), Err(PathError::OutsideRoots));
    assert_eq!(roots.resolve("link_file"), Err(PathError::OutsideRoots));
    assert_eq!(roots.resolve("dangling"), Err(PathError::DanglingSymlink));
    assert_eq!(roots.resolve("dangling/child"), Err(PathError::DanglingSymlink));
    // A link that stays inside is fine, and resolves to its target.
    let target = root.path().canonicalize().unwrap().join("docs/a.txt");
    assert_eq!(roots.resolve("inner_link").unwrap(), target);
}

#[test]
fn several_roots_and_bad_roots() {
    let (root, outside, _) = setup();
    let roots = ResourceRoots::new([root.path(), outside.path()]).unwrap();
    assert_eq!(roots.roots().len(), 2);
    let secret = outside.path().join("secret.txt");
    assert!(roots.resolve(secret.to_str().unwrap()).is_ok());
    assert_eq!(ResourceRoots::new(Vec::<&Path>::new()), Err(PathError::NoRoots));
    assert!(matches!(ResourceRoots::new([root.path().join("missing")]), Err(PathError::BadRoot { .. })));
}
