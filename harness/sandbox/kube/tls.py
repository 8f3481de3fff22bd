"""TLS for the sandbox's API server: a certificate authority and a serving certificate made per sandbox.

The API server speaks HTTPS because kubectl (client-go's ``clientcmd``) only reads a kubeconfig
user's credentials when the cluster is reached over TLS: over plain HTTP it would never send the
bearer token. The CA's certificate goes into the kubeconfig (``certificate-authority-data``); the keys
live in memory and, for the moment ``ssl`` needs a file to load them, in a 0600 temporary file.

    tls = ServerTls.generate()
    web.SockSite(runner, sock, ssl_context=tls.server_context(directory))
    httpx.Client(verify=tls.client_context())
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "harness sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: str, issuer: str, key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))


def _ca(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    return (_builder("sandbox-ca", "sandbox-ca", key, now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))


def _serving(key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
             now: dt.datetime) -> x509.Certificate:
    names = x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (_builder("kube-apiserver", "sandbox-ca", key, now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .add_extension(names, critical=False)
            .sign(ca_key, hashes.SHA256()))


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ServerTls:
    """A per-sandbox CA (``ca_pem``, what clients trust) and the API server's certificate and key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def generate(cls) -> ServerTls:
        """A new CA and a serving certificate for 127.0.0.1 and localhost, valid for a year."""
        now = dt.datetime.now(dt.UTC)
        ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _ca(ca_key, now)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return cls(ca_pem=_pem(ca), cert_pem=_pem(_serving(key, ca, ca_key, now)), key_pem=key_pem)

    def server_context(self, directory: Path | None = None) -> ssl.SSLContext:
        """The server side: the certificate and key, loaded through a 0600 file removed at once."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        fd, path = tempfile.mkstemp(prefix=".kubeapi-", suffix=".pem", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.cert_pem + self.key_pem)
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A client side that trusts this sandbox's CA (for raw HTTP clients such as httpx)."""
        return ssl.create_default_context(cadata=self.ca_pem.decode())
