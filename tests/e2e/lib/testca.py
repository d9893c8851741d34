"""A throw-away certificate authority for the TLS tests, made with the
openssl CLI in a temporary directory that is removed afterwards:

    with TestCA() as ca:
        ca.certificate, ca.private_key   # the relay's chain and key (PEM)
        ca.ca_certificate                # what a client trusts
        ca.spki_hash()                   # for Chromium's --ignore-certificate-errors-spki-list

The server certificate names the relay's addresses as IP subject
alternative names (RFC 8656 §18.6 clients check them against the turns: URL's
host), here scripts/topology's 198.51.100.1 and 2001:db8:100::1, and the
relay's name RELAY_NAME as a DNS one: Firefox takes a turns: URL only with
a name ("TLS requires FQDN, not IP address"), which the browser tests map
to 198.51.100.1 in the clients' namespace (/etc/netns/NS/hosts)."""
from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from pathlib import Path

RELAY_ADDRESSES = ("198.51.100.1", "2001:db8:100::1")
# RFC 6761's .test: a name that no resolver outside a test answers for.
RELAY_NAME = "turn.relay.test"


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    r = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}")
    return r.stdout


def make_certificates(directory: Path, addresses: tuple[str, ...] = RELAY_ADDRESSES, days: int = 2,
                      name: str = RELAY_NAME) -> None:
    """ca.pem/ca.key and server.pem/server.key in `directory`: a CA
    (basicConstraints CA:true) and a server certificate it signed for
    `addresses` (IP SANs; the first is also the CN) and `name` (a DNS SAN),
    EC P-256, valid from now for `days` (the namespaces share one clock)."""
    d = directory
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", str(days),
             "-subj", "/CN=turn-relay e2e test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    san = ",".join([*(f"IP:{a}" for a in addresses), f"DNS:{name}"])
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"), "-subj", f"/CN={addresses[0]}")
    (d / "server.ext").write_text(f"subjectAltName={san}\nbasicConstraints=critical,CA:FALSE\n"
                                  "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
             "-CAcreateserial", "-out", str(d / "server.pem"), "-days", str(days), "-extfile", str(d / "server.ext"))
    for f in ("ca.key", "server.key"):
        (d / f).chmod(0o600)


class TestCA:
    """A CA and the relay's certificate in a temporary directory of its own,
    removed when the `with` ends (also on failure). `TestCA.at(DIR)`: the
    ones make_certificates() left in DIR (scripts/demo's), kept."""

    def __init__(self, addresses: tuple[str, ...] = RELAY_ADDRESSES):
        self.addresses = addresses
        self.dir: Path | None = None
        self.owned = True

    @classmethod
    def at(cls, directory: Path) -> "TestCA":
        ca = cls()
        ca.dir, ca.owned = directory, False
        return ca

    def __enter__(self) -> "TestCA":
        self.dir = Path(tempfile.mkdtemp(prefix="relay-testca-"))
        self.dir.chmod(0o755)  # coturn drops privileges only when told to; readable either way
        try:
            make_certificates(self.dir, self.addresses)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.dir is not None and self.owned:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def ca_certificate(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def certificate(self) -> Path:
        return self.dir / "server.pem"

    @property
    def private_key(self) -> Path:
        return self.dir / "server.key"

    def spki_hash(self) -> str:
        """base64(SHA-256(SubjectPublicKeyInfo)) of the server key, the form
        Chromium's --ignore-certificate-errors-spki-list takes."""
        der = _openssl("pkey", "-in", str(self.private_key), "-pubout", "-outform", "DER")
        digest = _openssl("dgst", "-sha256", "-binary", stdin=der)
        return base64.b64encode(digest).decode()

    def nss_db(self, home: Path, db: Path | None = None) -> Path:
        """An NSS database that trusts this CA for TLS servers: `db`, by
        default HOME/.pki/nssdb (where Chromium on Linux looks); certutil is
        libnss3-tools'."""
        db = db or home / ".pki" / "nssdb"
        db.mkdir(parents=True, exist_ok=True)
        for args in (["-N", "--empty-password"],
                     ["-A", "-n", "turn-relay-e2e-ca", "-t", "C,,", "-i", str(self.ca_certificate)]):
            r = subprocess.run(["certutil", "-d", f"sql:{db}", *args], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                raise RuntimeError(f"certutil {' '.join(args)}: {r.stdout}{r.stderr}")
        return db


if __name__ == "__main__":
    # scripts/demo: `testca.py DIR` makes the CA and the relay's certificate
    # in DIR (which must exist), the same way the tests do.
    import sys

    make_certificates(Path(sys.argv[1]))
