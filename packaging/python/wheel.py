"""Builds mailtape's wheel around a binary that is already built: the same
files as `maturin build` makes from packaging/python/pyproject.toml (the
binary in `.data/scripts`, the `mailtape` package, the pytest11 entry
point), without compiling anything. packaging/build.sh uses it for
`--binary` (CI packages the binary its tests already built); releases use
maturin.

    python3 packaging/python/wheel.py --binary PATH --version 0.1.0 --out DIR [--plat TAG]
"""

import argparse
import base64
import hashlib
import os
import sys
import sysconfig
import tomllib
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def metadata(project: dict, version: str) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {version}",
        f"Summary: {project['description']}",
        f"License: {project['license']['text']}",
        f"Keywords: {','.join(project.get('keywords', []))}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Classifier: {c}" for c in project.get("classifiers", [])]
    readme = open(os.path.join(HERE, project["readme"]), encoding="utf-8").read()
    lines += ["Description-Content-Type: text/markdown; charset=UTF-8", "", readme]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--plat", default=sysconfig.get_platform().replace("-", "_").replace(".", "_"),
                    help="the wheel's platform tag (default: this machine's, e.g. linux_x86_64)")
    args = ap.parse_args()
    project = tomllib.load(open(os.path.join(HERE, "pyproject.toml"), "rb"))["project"]
    name, version = project["name"], args.version
    dist = f"{name}-{version}"
    wheel_name = f"{dist}-py3-none-{args.plat}.whl"
    exe = "mailtape.exe" if args.binary.endswith(".exe") else "mailtape"
    files: list[tuple[str, bytes, int]] = []  # (path in wheel, contents, mode)
    for root, dirs, names in os.walk(os.path.join(HERE, "mailtape")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for n in sorted(names):
            if n.endswith(".py"):
                path = os.path.join(root, n)
                rel = os.path.relpath(path, HERE).replace(os.sep, "/")
                files.append((rel, open(path, "rb").read(), 0o644))
    files.append((f"{dist}.data/scripts/{exe}", open(args.binary, "rb").read(), 0o755))
    info = f"{dist}.dist-info"
    files.append((f"{info}/METADATA", metadata(project, version).encode(), 0o644))
    files.append((f"{info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: mailtape packaging/python/wheel.py\n"
        f"Root-Is-Purelib: false\nTag: py3-none-{args.plat}\n").encode(), 0o644))
    entry = "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                    for group, eps in project.get("entry-points", {}).items())
    files.append((f"{info}/entry_points.txt", entry.encode(), 0o644))
    record = [record_line(p, data) for p, data, _ in files] + [f"{info}/RECORD,,"]
    files.append((f"{info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644))
    os.makedirs(args.out, exist_ok=True)
    out = os.path.join(args.out, wheel_name)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data, mode in files:
            zi = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
