"""The fixtures come from the pytest plugin in mailtape's wheel
(`pip install mailtape`, or a wheel from `bash packaging/build.sh`): nothing
to write here. From a checkout without the wheel, the plugin is loaded from
packaging/python and MAILTAPE names the binary:

    cargo build && MAILTAPE=target/debug/mailtape python3 -m pytest examples/python
"""

import os
import sys

try:
    import mailtape.pytest_plugin  # noqa: F401  (installed: pytest loaded it already)
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "packaging", "python"))
    from mailtape.pytest_plugin import (  # noqa: F401
        mailtape,
        mailtape_certs,
        mailtape_replay,
        pytest_configure,
    )
