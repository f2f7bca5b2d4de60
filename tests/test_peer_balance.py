"""bench/peers/balance.py's pure parts: how load is dealt out, and how the spread over workers is read.

The servers are never run here; the figures the benchmark prints rest on these.
"""

from __future__ import annotations

import sys

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))
sys.path.insert(0, str(REPO / "bench"))

from balance import even_targets, worker_split

from loadgen import shares

# What `ss -tnpH state established sport = :<port>` prints for a 2-worker server.
SS_OUTPUT = """\
0      0      127.0.0.1:41000 127.0.0.1:53280 users:(("python",pid=7301,fd=14))
0      0      127.0.0.1:41000 127.0.0.1:53266 users:(("python",pid=7295,fd=12))
0      0      127.0.0.1:41000 127.0.0.1:53288 users:(("python",pid=7301,fd=15))
0      0      127.0.0.1:41000 127.0.0.1:53290 users:(("python",pid=7301,fd=16))
"""


def test_the_split_counts_connections_per_worker_process_busiest_first() -> None:
    assert worker_split(SS_OUTPUT) == [3, 1]


def test_no_connections_is_an_empty_split() -> None:
    assert worker_split("") == []


def test_a_socket_two_processes_hold_counts_for_each() -> None:
    line = '0 0 127.0.0.1:1 127.0.0.1:2 users:(("python",pid=10,fd=3),("python",pid=11,fd=3))\n'
    assert worker_split(line) == [1, 1]


def test_connections_are_dealt_out_evenly_the_first_processes_taking_the_remainder() -> None:
    assert shares(16, 2) == [8, 8]
    assert shares(17, 3) == [6, 6, 5]
    assert sum(shares(17, 3)) == 17


def test_never_more_load_processes_than_connections() -> None:
    assert shares(2, 4) == [1, 1]
    assert shares(0, 2) == [0]


def test_each_server_of_the_even_arrangement_gets_its_own_process_and_half_the_connections() -> (
    None
):
    assert even_targets([8443, 8444], 16) == [(8443, 8), (8444, 8)]
    # Two processes on one port: how the comparison drives a 2-worker server.
    assert even_targets([8443, 8443], 16) == [(8443, 8), (8443, 8)]
