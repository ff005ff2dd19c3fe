"""moto's S3 server (PyPI `moto`) as the upstream S3 cluster of the scale-out tests.

Binds a port the OS chooses, prints `PORT <n>` once it accepts connections, and serves until its
standard input is closed (the test harness holds the pipe, so the server dies with the tests).
"""

import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("PORT", server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
