# shellcheck shell=bash
# freeport prints a port of 127.0.0.1 free for both TCP and UDP, as
# memberlist needs. Sourced by the scripts that start clusters.
freeport() {
  python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()'
}
