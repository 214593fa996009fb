"""Every failure a task meets becomes a classified MigrationError: the core decides the order, and
each edge reads its own library's exceptions (no shell above them knows psycopg2 or botocore)."""

from __future__ import annotations

import errno

import psycopg2
from botocore.exceptions import ClientError, EndpointConnectionError

from hls_operators.core.errors import ErrorClass, MigrationError, classify
from hls_operators.edges import catalog, storage

READERS = (catalog.read_error, storage.read_error)


def test_a_classified_failure_stays_as_it_is():
    refused = MigrationError(ErrorClass.NOT_VIDEO, "a text file")
    assert classify(refused, *READERS) is refused


def test_each_edge_reads_its_own_library_and_its_faults_are_retried():
    lost = classify(psycopg2.OperationalError("server closed the connection unexpectedly"), *READERS)
    assert (lost.error_class, lost.retryable) == (ErrorClass.CATALOG_UNAVAILABLE, True)
    unreachable = classify(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), *READERS)
    assert (unreachable.error_class, unreachable.retryable) == (ErrorClass.STORAGE_UNAVAILABLE, True)
    refused = ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "PutObject")
    assert classify(refused, *READERS).error_class is ErrorClass.STORAGE_UNAVAILABLE
    # an edge leaves what is not its library to the others
    assert catalog.read_error(refused) is None and storage.read_error(psycopg2.InterfaceError()) is None


def test_a_full_disk_is_told_apart_and_anything_else_is_a_defect_not_retried():
    full = classify(OSError(errno.ENOSPC, "No space left on device"), *READERS)
    assert (full.error_class, full.retryable) == (ErrorClass.DISK_FULL, True)
    defect = classify(KeyError("renditions"), *READERS)
    assert (defect.error_class, defect.retryable) == (ErrorClass.INTERNAL, False)
    assert defect.message == "KeyError: 'renditions'"
