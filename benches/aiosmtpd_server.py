"""An aiosmtpd server for the side-by-side benchmark: accepts any AUTH and
any message, plain, STARTTLS or implicit TLS.

    python3 benches/aiosmtpd_server.py --port 3525 --mode starttls --cert C --key K
"""

import argparse
import asyncio
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def accept_any(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["plain", "starttls", "implicit"], default="plain")
    p.add_argument("--cert")
    p.add_argument("--key")
    a = p.parse_args()
    ctx = None
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
    kwargs = dict(
        authenticator=accept_any,
        auth_require_tls=False,
        auth_required=False,
        data_size_limit=64 * 1024 * 1024,
    )
    if a.mode == "starttls":
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=a.port,
        ssl_context=ctx if a.mode == "implicit" else None,
        server_kwargs=kwargs,
        ready_timeout=10,
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
