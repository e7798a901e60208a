"""Undecorated script: run() gets the raw body as str; behaviours chosen by the body."""

import json
import os
import time


def init():
    marker = os.environ.get("MLNB_TEST_INIT_MARKER")
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    time.sleep(float(os.environ.get("MLNB_TEST_INIT_SLEEP", "0")))


def run(raw_data):
    if raw_data.startswith("{"):
        request = json.loads(raw_data)
        action = request.get("action")
        if action == "fail":
            raise ValueError("asked to fail")
        if action == "sleep":
            time.sleep(request["seconds"])
        if action == "exit":
            os._exit(1)
        if action == "segfault":
            import ctypes

            ctypes.string_at(0)
        if action == "pid":
            return {"pid": os.getpid()}
        if action == "set":
            return {1, 2}
    return {"type": type(raw_data).__name__, "echo": raw_data}
