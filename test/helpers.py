"""Helpers several test modules share (plain functions; fixtures live in conftest.py)."""

import subprocess

# Addresses ss prints for the loopback interface.
LOOPBACK = {'127.0.0.1', '[::1]', '[::ffff:127.0.0.1]', '::1'}


def process_sockets(pids):
    """Return {pid: [(address, port)]} of every TCP and UDP socket ``ss -tunap`` shows."""
    table = subprocess.run(['ss', '-tunapH'], capture_output=True, text=True, check=True).stdout
    found = {pid: [] for pid in pids}
    for line in table.splitlines():
        for pid in pids:
            if f'pid={pid},' in line:
                address, port = line.split()[4].rsplit(':', 1)
                found[pid].append((address.split('%')[0], int(port)))
    return found


def process_group(pgid):
    """Return the pids of the processes in process group ``pgid``."""
    table = subprocess.run(['ps', '-e', '-o', 'pid=,pgid='], capture_output=True, text=True,
                           check=True).stdout
    return [int(pid) for pid, group in (line.split() for line in table.splitlines())
            if int(group) == pgid]
