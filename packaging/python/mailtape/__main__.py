"""`python -m mailtape …` runs the binary, as `mailtape …` does."""

import os
import subprocess
import sys

from . import binary


def main() -> int:
    path = binary()
    if os.name == "nt":
        return subprocess.call([path, *sys.argv[1:]])
    os.execv(path, [path, *sys.argv[1:]])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
