//! Wildcard expansion of one word, the same on both sides: each component with a wildcard is matched against a listing of the directories reached so far, with `crate::file_service::glob`.
//!
//! The side is given as three functions (join a name, go to the parent,
//! list a directory), so the remote side lists over the connection and the
//! local side with `std::fs`, and the walk itself is tested without either.

use crate::file_service::glob;

/// One directory entry as expansion sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<M> {
    pub name: Vec<u8>,
    pub meta: M,
    /// A directory, or something that may lead to one (a symbolic link): a
    /// wildcard before the last `/` only walks into these.
    pub dir_like: bool,
}

/// How one side of the shell names and lists things.
pub trait Side {
    type Path: Clone;
    type Meta: Clone;
    fn join(&self, dir: &Self::Path, name: &[u8]) -> Self::Path;
    fn parent(&self, path: &Self::Path) -> Self::Path;
    fn list(&mut self, dir: &Self::Path) -> Result<Vec<Found<Self::Meta>>, String>;
}

/// The paths `pattern` matches, starting from `base`, in listing order;
/// each with the entry's metadata when the last component was a wildcard
/// (a last component without one is taken as it is, unchecked).
///
/// `keep` decides which names a wildcard may match at all (the file shell
/// leaves out partial uploads). A directory that cannot be listed simply
/// matches nothing, as in a shell.
pub fn expand<S: Side>(
    side: &mut S,
    base: S::Path,
    pattern: &str,
    keep: &dyn Fn(&[u8]) -> bool,
) -> Vec<(S::Path, Option<S::Meta>)> {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut reached: Vec<(S::Path, Option<S::Meta>)> = vec![(base, None)];
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let mut next = Vec::new();
        for (path, _) in reached {
            if *part == ".." {
                next.push((side.parent(&path), None));
            } else if let Some(name) = glob::literal(part) {
                next.push((side.join(&path, name.as_bytes()), None));
            } else {
                let Ok(entries) = side.list(&path) else {
                    continue;
                };
                for found in entries {
                    let shown = String::from_utf8_lossy(&found.name);
                    if (last || found.dir_like) && keep(&found.name) && glob::matches(part, &shown)
                    {
                        next.push((side.join(&path, &found.name), Some(found.meta)));
                    }
                }
            }
        }
        reached = next;
    }
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A tree in memory: paths are `/`-joined strings, directories end in `/`.
    struct Fake {
        dirs: BTreeMap<String, Vec<(&'static str, bool)>>,
        listed: Vec<String>,
    }

    impl Side for Fake {
        type Path = String;
        type Meta = bool;
        fn join(&self, dir: &String, name: &[u8]) -> String {
            let name = String::from_utf8_lossy(name);
            if dir.is_empty() {
                name.into_owned()
            } else {
                format!("{dir}/{name}")
            }
        }
        fn parent(&self, path: &String) -> String {
            path.rsplit_once('/')
                .map_or(String::new(), |(p, _)| p.to_owned())
        }
        fn list(&mut self, dir: &String) -> Result<Vec<Found<bool>>, String> {
            self.listed.push(dir.clone());
            let entries = self.dirs.get(dir).ok_or("not a directory")?;
            Ok(entries
                .iter()
                .map(|&(name, is_dir)| Found {
                    name: name.as_bytes().to_vec(),
                    meta: is_dir,
                    dir_like: is_dir,
                })
                .collect())
        }
    }

    fn fake() -> Fake {
        let mut dirs = BTreeMap::new();
        dirs.insert(
            String::new(),
            vec![
                (".hidden", false),
                (".x.part", false),
                ("a.txt", false),
                ("b.txt", false),
                ("c.bin", false),
                ("d1", true),
                ("d2", true),
                ("my file.txt", false),
            ],
        );
        dirs.insert("d1".into(), vec![("n.txt", false), ("o.bin", false)]);
        dirs.insert("d2".into(), vec![("n.txt", false)]);
        Fake {
            dirs,
            listed: Vec::new(),
        }
    }

    fn run(f: &mut Fake, base: &str, pattern: &str) -> Vec<String> {
        let not_partial = |n: &[u8]| !crate::file_service::root::is_partial_name(n);
        expand(f, base.to_owned(), pattern, &not_partial)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    #[test]
    fn the_tutorials_dot_star() {
        let mut f = fake();
        assert_eq!(
            run(&mut f, "", "./*"),
            ["a.txt", "b.txt", "c.bin", "d1", "d2", "my file.txt"]
        );
        assert_eq!(run(&mut f, "", "*.txt"), ["a.txt", "b.txt", "my file.txt"]);
        assert_eq!(run(&mut f, "", "?.bin"), ["c.bin"]);
        assert_eq!(
            run(&mut f, "", ".*"),
            [".hidden"],
            "partial uploads are left out"
        );
        assert!(run(&mut f, "", "*.none").is_empty());
    }

    #[test]
    fn wildcards_in_directories_and_literals_around_them() {
        let mut f = fake();
        assert_eq!(run(&mut f, "", "d*/n.txt"), ["d1/n.txt", "d2/n.txt"]);
        assert_eq!(
            run(&mut f, "", "*/*.bin"),
            ["d1/o.bin"],
            "files are not walked into"
        );
        assert_eq!(run(&mut f, "d1", "../d2/*"), ["d2/n.txt"]);
        assert_eq!(run(&mut f, "", "my\\ file.txt"), ["my file.txt"]);
        // A literal last part is taken as typed, without a listing.
        f.listed.clear();
        assert_eq!(run(&mut f, "", "d1/missing"), ["d1/missing"]);
        assert!(f.listed.is_empty());
        // A wildcard under something that is not a directory matches nothing.
        assert!(run(&mut f, "", "a.txt/*").is_empty());
    }

    #[test]
    fn metadata_comes_with_wildcard_matches_only() {
        let mut f = fake();
        let keep_all = |_: &[u8]| true;
        let got = expand(&mut f, String::new(), "d*", &keep_all);
        assert_eq!(
            got,
            vec![("d1".to_owned(), Some(true)), ("d2".to_owned(), Some(true))]
        );
        let got = expand(&mut f, String::new(), "a.txt", &keep_all);
        assert_eq!(got, vec![("a.txt".to_owned(), None)]);
    }
}
