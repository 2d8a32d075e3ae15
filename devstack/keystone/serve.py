"""Serve Keystone's public WSGI application on loopback for the local stack (run by Keystone's own Python).

Keystone ships a WSGI application and expects a web server in front (Apache, uWSGI). The stack needs only a
few requests per test run (a token for each client, a validation for each new token at the Swift proxy), so
the standard library's server, one thread per request, is enough and adds nothing to install.

Usage: python serve.py CONFIG_FILE HOST PORT
"""

import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format, *args):
        """Keystone logs each request itself, to its log file."""


def main() -> None:
    config, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    del sys.argv[1:]  # Keystone's configuration parses the command line too
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = config  # read by initialize_public_application
    from keystone.server.wsgi import initialize_public_application

    app = initialize_public_application()
    print(f"keystone listening on {host}:{port}", flush=True)
    make_server(host, port, app, server_class=_Server, handler_class=_Quiet).serve_forever()


if __name__ == "__main__":
    main()
