#!/usr/bin/python3
"""Deterministic generator of valid OpenPGP v4 certificates, for benchmarks and tests.

Each key is: an Ed25519 primary key (EdDSA, algorithm 22), one or more user
IDs each with a positive self-certification (0x13), and an X25519 (ECDH,
algorithm 18) encryption subkey with a binding signature (0x18). All
signatures are real, so gpg and sq import the keys. The same N, --seed and
--start always give the same bytes.

usage: synth-keys.py N [--seed TEXT] [--start I] [--uids K] [--armor]
                       [--fprs FILE] > keys.pgp

  N          number of keys (key numbers START .. START+N-1)
  --seed     changes every key (default "hkp-bench")
  --uids     user IDs per key (default 1; key i gets 1 + i % K when K > 1)
  --armor    write one ASCII-armored block instead of binary
  --fprs     also write the primary fingerprints (40 hex), one per line

Needs Debian's python3-cryptography; run with /usr/bin/python3.
"""
import argparse
import base64
import hashlib
import struct
import sys

try:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
except ImportError:
    sys.exit("synth-keys.py: needs python3-cryptography (apt-get install python3-cryptography); "
             "run it with /usr/bin/python3")

OID_ED25519 = bytes.fromhex("2b06010401da470f01")
OID_CV25519 = bytes.fromhex("2b060104019755010501")
EPOCH = 1_577_836_800            # 2020-01-01T00:00:00Z; key i is created EPOCH + i * 3607 s,
SPAN = 2**32 - EPOCH             # modulo SPAN so that a million keys still fit 32-bit times

GIVEN = ["Alice", "Bruno", "Carmen", "Deniz", "Elif", "Femi", "Greta", "Hamid", "Irene", "Jonas",
         "Keiko", "Luca", "Maren", "Nikos", "Oskar", "Pilar", "Rahul", "Sanna", "Teodor", "Ulla",
         "Viktor", "Wanda", "Yara", "Zeno"]
FAMILY = ["Abbott", "Berger", "Castillo", "Dalton", "Eriksen", "Fontaine", "Gallo", "Holm",
          "Iqbal", "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Ortiz", "Petrov",
          "Quist", "Romano", "Sato", "Tanner", "Ueda", "Varga", "Weber", "Young"]
DOMAINS = ["bench.example.org", "example.net", "keys.example.com", "lists.example.org"]

RAW = serialization.Encoding.Raw
PUB_RAW = serialization.PublicFormat.Raw


def mpi(data: bytes) -> bytes:
    data = data.lstrip(b"\x00") or b"\x00"
    bits = (len(data) - 1) * 8 + data[0].bit_length()
    return struct.pack(">H", bits) + data


def pkt(tag: int, body: bytes) -> bytes:
    """Packet with a new-format header (RFC 4880 section 4.2.2)."""
    n = len(body)
    if n < 192:
        hdr = bytes([n])
    elif n < 8384:
        hdr = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    else:
        hdr = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + hdr + body


def sub(kind: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, kind]) + data


def key_hashed_form(body: bytes) -> bytes:
    return b"\x99" + struct.pack(">H", len(body)) + body


class Cert:
    def __init__(self, seed: str, index: int, nuids: int):
        tag = f"{seed}/{index}".encode()
        self.created = EPOCH + (index * 3607) % SPAN
        self.sign_key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(tag + b"/ed").digest())
        enc_key = X25519PrivateKey.from_private_bytes(hashlib.sha256(tag + b"/x").digest())
        ts = struct.pack(">I", self.created)
        ed_pub = self.sign_key.public_key().public_bytes(RAW, PUB_RAW)
        x_pub = enc_key.public_key().public_bytes(RAW, PUB_RAW)
        self.primary = b"\x04" + ts + bytes([22, len(OID_ED25519)]) + OID_ED25519 + mpi(b"\x40" + ed_pub)
        # KDF parameters: length 3, reserved 1, SHA-256, AES-128
        self.subkey = (b"\x04" + ts + bytes([18, len(OID_CV25519)]) + OID_CV25519
                       + mpi(b"\x40" + x_pub) + b"\x03\x01\x08\x07")
        self.fpr = hashlib.sha1(key_hashed_form(self.primary)).digest()
        h = hashlib.sha256(tag).digest()
        g, f = GIVEN[h[0] % len(GIVEN)], FAMILY[h[1] % len(FAMILY)]
        self.uids = []
        for u in range(nuids):
            dom = DOMAINS[(h[2] + u) % len(DOMAINS)]
            local = f"{g}.{f}.{index}".lower() if u == 0 else f"{g[0]}{f}{index}-{u}".lower()
            name = f"{g} {f}" if u == 0 else f"{g} {f} ({['work', 'home', 'lists'][u % 3]})"
            self.uids.append(f"{name} <{local}@{dom}>".encode())

    def sign(self, sigtype: int, signed: bytes, hashed: bytes) -> bytes:
        head = bytes([4, sigtype, 22, 8]) + struct.pack(">H", len(hashed)) + hashed
        trailer = b"\x04\xff" + struct.pack(">I", len(head))
        digest = hashlib.sha256(signed + head + trailer).digest()
        sig = self.sign_key.sign(digest)
        unhashed = sub(16, self.fpr[-8:])
        return pkt(2, head + struct.pack(">H", len(unhashed)) + unhashed + digest[:2]
                   + mpi(sig[:32]) + mpi(sig[32:]))

    def packets(self) -> bytes:
        ts = struct.pack(">I", self.created)
        issuer_fpr = sub(33, b"\x04" + self.fpr)
        out = [pkt(6, self.primary)]
        for n, uid in enumerate(self.uids):
            hashed = (sub(2, ts) + sub(27, b"\x03") + sub(11, b"\x09\x08\x07")
                      + sub(21, b"\x08\x0a") + sub(22, b"\x02\x01\x00")
                      + sub(30, b"\x01") + issuer_fpr)
            if n == 0:
                hashed += sub(25, b"\x01")        # primary user ID
            signed = key_hashed_form(self.primary) + b"\xb4" + struct.pack(">I", len(uid)) + uid
            out += [pkt(13, uid), self.sign(0x13, signed, hashed)]
        out.append(pkt(14, self.subkey))
        hashed = sub(2, ts) + sub(27, b"\x0c") + issuer_fpr
        out.append(self.sign(0x18, key_hashed_form(self.primary) + key_hashed_form(self.subkey), hashed))
        return b"".join(out)


def crc24(data: bytes) -> int:
    crc = 0xB704CE
    for b in data:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(data: bytes) -> bytes:
    b64 = base64.b64encode(data).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(struct.pack(">I", crc24(data))[1:]).decode()
    return ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(lines) + "\n=" + crc
            + "\n-----END PGP PUBLIC KEY BLOCK-----\n").encode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", default="hkp-bench")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--uids", type=int, default=1)
    ap.add_argument("--armor", action="store_true")
    ap.add_argument("--fprs")
    a = ap.parse_args()
    if a.n < 0 or a.start < 0 or a.uids < 1:
        ap.error("N and --start must be >= 0, --uids >= 1")
    blobs, fprs = [], []
    for i in range(a.start, a.start + a.n):
        c = Cert(a.seed, i, 1 + i % a.uids if a.uids > 1 else 1)
        blobs.append(c.packets())
        fprs.append(c.fpr.hex().upper())
    data = b"".join(blobs)
    sys.stdout.buffer.write(armor(data) if a.armor else data)
    if a.fprs:
        with open(a.fprs, "w") as f:
            f.write("".join(x + "\n" for x in fprs))


if __name__ == "__main__":
    main()
