"""A load loop that runs inside a client container on a Swarm service's overlay network.

Only the standard library: it runs on the bare base image. Every request resolves
``tasks.<service>`` again and connects to one of the addresses it gets, so requests spread
over the replicas the way a DNS round-robin client spreads them. A request whose
connection is refused or reset before an answer is retried once, and counted as retried.

Usage: ``python3 - HOST PORT SECONDS MAX_REQUESTS CONCURRENCY`` with this file on stdin;
it stops early when ``/tmp/stop`` exists, and prints one JSON document: per request the
status, the body's ``replica`` and ``version``, and whether it was retried.
"""

import http.client
import json
import os
import random
import socket
import sys
import threading
import time

HOST, PORT, SECONDS, MAX_REQUESTS, CONCURRENCY = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
BODY = json.dumps({"data": [[1, 2, 3]]})
results = []
sent = [0]
lock = threading.Lock()
deadline = time.monotonic() + SECONDS


def once():
    addresses = sorted({info[4][0] for info in socket.getaddrinfo(HOST, PORT, proto=socket.IPPROTO_TCP)})
    connection = http.client.HTTPConnection(random.choice(addresses), PORT, timeout=30)
    try:
        connection.request("POST", "/score", BODY, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def work():
    while time.monotonic() < deadline and not os.path.exists("/tmp/stop"):
        with lock:
            if sent[0] >= MAX_REQUESTS:
                return
            sent[0] += 1
        started = time.monotonic()
        retried = False
        try:
            try:
                status, body = once()
            except (ConnectionError, socket.gaierror, http.client.RemoteDisconnected):
                retried = True
                status, body = once()
            answer = json.loads(body) if status == 200 else {}
        except Exception as error:  # a failed request is a result, not a crash
            status, answer = 0, {"error": f"{type(error).__name__}: {error}"}
        with lock:
            results.append({"status": status, "retried": retried, "ms": 1000 * (time.monotonic() - started), **answer})


threads = [threading.Thread(target=work) for _ in range(CONCURRENCY)]
began = time.monotonic()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"seconds": time.monotonic() - began, "results": results}))
