"""mongo-stepdown talks to one member directly: the URI's security options must come along."""

from __future__ import annotations

import pytest
from pymongo import MongoClient

from harness.clients.mongo import direct_options


def test_credentials_tls_and_mechanism_are_kept_and_set_options_dropped() -> None:
    uri = ("mongodb://harness:p%40ss@db-0:27017,db-1:27017/shop?replicaSet=rs0&tls=true&tlsInsecure=false"
           "&authMechanism=SCRAM-SHA-256&w=majority&compressors=zlib")
    opts = direct_options(uri)
    assert opts["username"] == "harness" and opts["password"] == "p@ss"
    assert opts["tls"] is True and opts["authMechanism"] == "SCRAM-SHA-256" and opts["w"] == "majority"
    assert opts["compressors"] == ["zlib"]
    # the driver authenticates against the URI's database when authSource is not given: so must we
    assert opts["authSource"] == "shop"
    assert opts["directConnection"] is True
    assert not {k.lower() for k in opts} & {"replicaset"}


def test_explicit_auth_source_wins_over_the_database() -> None:
    opts = direct_options("mongodb://u:p@db-0:27017/shop?authSource=admin&replicaSet=rs0")
    assert opts["authSource"] == "admin"


def test_no_credentials_no_auth_source() -> None:
    assert direct_options("mongodb://db-0:27017,db-1:27017/shop?replicaSet=rs0") == {"directConnection": True}


@pytest.mark.parametrize("uri", [
    "mongodb://u:p@db-0:27017/shop?replicaSet=rs0&tls=true&authMechanism=SCRAM-SHA-1",
    "mongodb://db-0:27017/?replicaSet=rs0&readPreference=secondaryPreferred",
])
def test_the_driver_accepts_the_options_for_a_single_member(uri: str) -> None:
    client: MongoClient[dict[str, object]] = MongoClient("db-1", 27018, connect=False, **direct_options(uri))
    try:
        assert client.topology_description.topology_type_name == "Single"
        assert client.options.pool_options.__class__.__name__ == "PoolOptions"
        assert ("tls=true" in uri) == (client.options.pool_options._ssl_context is not None)
    finally:
        client.close()
