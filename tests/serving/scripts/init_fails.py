"""init() raises: the server must exit non-zero with this traceback in its log."""


def init():
    raise RuntimeError("model file is corrupt: boom-4242")


def run(data):
    return data
