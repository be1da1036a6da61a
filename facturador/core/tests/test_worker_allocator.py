"""A worker runs with the allocator of FACTURADOR_WORKER_MALLOC preloaded: it starts itself again with it."""

from pathlib import Path

import pytest
from django.conf import settings

from conftest import wait_for


@pytest.mark.skipif(not settings.FACTURADOR_WORKER_MALLOC, reason="no jemalloc on this machine (libjemalloc2)")
def test_the_worker_process_has_the_configured_allocator_loaded(start_worker):
    worker = start_worker("malloc-w1")
    maps = Path(f"/proc/{worker.proc.pid}/maps")
    # the same process (execve keeps the pid the caller watches), now with the library mapped
    assert wait_for(lambda: settings.FACTURADOR_WORKER_MALLOC in maps.read_text(), timeout=60,
                    message="the worker to start again with the allocator")
    assert worker.proc.poll() is None
