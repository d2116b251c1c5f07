"""Refreshes the vendored advisory database from a checkout of the real one.

    git clone https://github.com/rustsec/advisory-db /tmp/advisory-db
    python3 audit/vendor.py /tmp/advisory-db

Copies the advisories of every crate named in Cargo.lock and fuzz/Cargo.lock
(placeholders with the id RUSTSEC-0000-0000 and the like are skipped), and
rewrites audit/checked.txt and audit/sources.txt. Needs a machine that can
reach GitHub; this one cannot, which is why the copy is vendored.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
HERE = ROOT / "audit"


def locked_names():
    names = set()
    for lock in ["Cargo.lock", "fuzz/Cargo.lock"]:
        with open(ROOT / lock, "rb") as f:
            names.update(p["name"] for p in tomllib.load(f)["package"])
    return sorted(names)


def main():
    src = pathlib.Path(sys.argv[1])
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dest = HERE / "advisory-db" / "crates"
    shutil.rmtree(dest, ignore_errors=True)
    checked, sources = [], []
    for name in locked_names():
        found = sorted(p for p in (src / "crates" / name).glob("RUSTSEC-*.md") if not re.match(r"RUSTSEC-0000-", p.name))
        for p in found:
            (dest / name).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest / name / p.name)
            sources.append(f"crates/{name}/{p.name} {commit or 'unknown'}")
        checked.append(f"{name} {len(found)}")
    (HERE / "checked.txt").write_text("\n".join(checked) + "\n")
    (HERE / "sources.txt").write_text("# path in rustsec/advisory-db, then the commit of the copy vendored here\n" + "\n".join(sources) + "\n")
    print(f"{len(checked)} crates checked, {len(sources)} advisories vendored")


if __name__ == "__main__":
    main()
