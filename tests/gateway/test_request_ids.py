"""Request ids come from a seeded PRNG, reseeded in every forked worker."""

from __future__ import annotations

import os
import re

from apiany.gateway.pipeline import new_request_id


def test_ids_have_the_documented_shape_and_do_not_repeat():
    ids = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"req_[0-9a-f]{24}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_worker_draws_different_ids_than_its_parent():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids and leave at once
        os.write(write, " ".join(new_request_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 4096).decode().split())
    os.close(read)
    parent = {new_request_id() for _ in range(5)}
    assert len(child) == 5 and not child & parent
