//! The vendored advisory database (audit/advisory-db) is only as good as its
//! coverage: these tests fail when a lock file names a crate it was not
//! checked for, or when a vendored advisory is not what its path says.

use std::collections::BTreeMap;
use std::path::Path;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Package names in a Cargo.lock.
fn locked(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let lock: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{path} is not TOML: {e}"));
    lock["package"]
        .as_array()
        .expect("a lock file has packages")
        .iter()
        .map(|p| {
            p["name"]
                .as_str()
                .expect("a package has a name")
                .to_string()
        })
        .collect()
}

/// audit/checked.txt: crate name → advisories vendored for it.
fn checked() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("audit/checked.txt"))
        .expect("audit/checked.txt is there");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, n) = l.split_once(' ').expect("`name count` lines");
            (name.to_string(), n.parse().expect("a count"))
        })
        .collect()
}

#[test]
fn every_locked_crate_was_checked_against_the_database() {
    let checked = checked();
    let mut missing: Vec<String> = locked("Cargo.lock")
        .into_iter()
        .chain(locked("fuzz/Cargo.lock"))
        .filter(|name| !checked.contains_key(name))
        .collect();
    missing.sort();
    missing.dedup();
    assert!(
        missing.is_empty(),
        "the lock files name crates the vendored advisory database was not checked for: {}.\n\
         Look each up in rustsec/advisory-db (crates/NAME/), copy its advisories into \
         audit/advisory-db/crates/NAME/ and add `NAME COUNT` to audit/checked.txt \
         (audit/README.md says how).",
        missing.join(", ")
    );
}

#[test]
fn vendored_advisories_are_what_their_paths_say() {
    let checked = checked();
    let crates = Path::new(ROOT).join("audit/advisory-db/crates");
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for dir in std::fs::read_dir(&crates).expect("the crates folder") {
        let dir = dir.expect("a folder entry").path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).expect("a crate folder") {
            let file = file.expect("a file entry").path();
            let text = std::fs::read_to_string(&file).expect("an advisory");
            let front = text
                .strip_prefix("```toml\n")
                .and_then(|t| t.split_once("\n```"))
                .map(|(f, _)| f)
                .unwrap_or_else(|| panic!("{} has no TOML front matter", file.display()));
            let front: toml::Table = front
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let advisory = &front["advisory"];
            let stem = file.file_stem().unwrap().to_string_lossy();
            assert_eq!(advisory["id"].as_str(), Some(&*stem), "{}", file.display());
            assert_eq!(
                advisory["package"].as_str(),
                Some(name.as_str()),
                "{}",
                file.display()
            );
            *counts.entry(name.clone()).or_default() += 1;
        }
    }
    for (name, n) in &checked {
        assert_eq!(
            counts.get(name).copied().unwrap_or(0),
            *n,
            "audit/checked.txt says {n} advisories for {name}"
        );
    }
    assert!(counts.keys().all(|k| checked.contains_key(k)));
}
