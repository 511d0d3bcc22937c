#!/usr/bin/env python3
"""Makes the signature-verification test keys in this directory.

Not run by the tests (its outputs are committed); rerun by hand to
regenerate (keys and ECDSA/DSA signatures are random, so the files change,
but not what test_sigverify expects of them). Needs python3-cryptography.

Every file is one v4 or v6 key, built packet by packet per RFC 9580, so
that each public-key algorithm, curve, hash and signature type the
verifier supports has a signature to check, and the embedded primary key
binding (0x19) cases have one key each. The v4 files of gpg-known
algorithms were also checked with `gpg --check-sigs` when they were made.
"""
import hashlib
import os
import struct
import sys
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, utils

CTIME = 1700000000

HASHES = {
    1: ("md5", hashes.MD5),
    2: ("sha1", hashes.SHA1),
    8: ("sha256", hashes.SHA256),
    9: ("sha384", hashes.SHA384),
    10: ("sha512", hashes.SHA512),
    11: ("sha224", hashes.SHA224),
    12: ("sha3_256", hashes.SHA3_256),
    14: ("sha3_512", hashes.SHA3_512),
}
SALT = {8: 16, 9: 24, 10: 32, 11: 16, 12: 16, 14: 32}

CURVES = {
    "p256": (ec.SECP256R1, bytes.fromhex("2A8648CE3D030107")),
    "p384": (ec.SECP384R1, bytes.fromhex("2B81040022")),
    "p521": (ec.SECP521R1, bytes.fromhex("2B81040023")),
    "bp256": (ec.BrainpoolP256R1, bytes.fromhex("2B2403030208010107")),
    "bp384": (ec.BrainpoolP384R1, bytes.fromhex("2B240303020801010B")),
    "bp512": (ec.BrainpoolP512R1, bytes.fromhex("2B240303020801010D")),
    "k256": (ec.SECP256K1, bytes.fromhex("2B8104000A")),
}
ED25519_OID = bytes.fromhex("2B06010401DA470F01")


def mpi(b):
    if isinstance(b, int):
        b = b.to_bytes((b.bit_length() + 7) // 8, "big") if b else b""
    b = b.lstrip(b"\0")
    bits = (len(b) - 1) * 8 + b[0].bit_length() if b else 0
    return struct.pack(">H", bits) + b


def packet(tag, body):
    n = len(body)
    if n < 192:
        ln = bytes([n])
    elif n < 8384:
        n2 = n - 192
        ln = bytes([(n2 >> 8) + 192, n2 & 0xFF])
    else:
        ln = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + ln + body


def subpkt(typ, body, critical=False):
    n = len(body) + 1
    if n < 192:
        ln = bytes([n])
    else:
        assert n < 8384
        ln = bytes([((n - 192) >> 8) + 192, (n - 192) & 0xFF])
    return ln + bytes([typ | (0x80 if critical else 0)]) + body


class Key:
    """A key: algorithm name, version, private key, packet body."""

    def __init__(self, kind, version=4, bits=2048):
        self.kind, self.version = kind, version
        if kind == "rsa":
            self.priv = rsa.generate_private_key(65537, bits)
            pn = self.priv.public_key().public_numbers()
            self.algo, mat = 1, mpi(pn.n) + mpi(pn.e)
        elif kind == "dsa":
            self.priv = dsa.generate_private_key(bits)
            pn = self.priv.public_key().public_numbers()
            p = pn.parameter_numbers
            self.algo, mat = 17, mpi(p.p) + mpi(p.q) + mpi(p.g) + mpi(pn.y)
        elif kind in CURVES:
            curve, oid = CURVES[kind]
            self.priv = ec.generate_private_key(curve())
            pt = self.priv.public_key().public_bytes(
                encoding=__import__("cryptography.hazmat.primitives.serialization",
                                    fromlist=["Encoding"]).Encoding.X962,
                format=__import__("cryptography.hazmat.primitives.serialization",
                                  fromlist=["PublicFormat"]).PublicFormat.UncompressedPoint)
            self.algo, mat = 19, bytes([len(oid)]) + oid + mpi(pt)
        elif kind == "eddsa":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            self.algo, mat = 22, bytes([len(ED25519_OID)]) + ED25519_OID + mpi(b"\x40" + self.raw())
        elif kind == "ed25519":
            self.priv = ed25519.Ed25519PrivateKey.generate()
            self.algo, mat = 27, self.raw()
        elif kind == "ed448":
            self.priv = ed448.Ed448PrivateKey.generate()
            self.algo, mat = 28, self.raw()
        else:
            raise ValueError(kind)
        if version == 6:
            self.body = bytes([6]) + struct.pack(">IB", CTIME, self.algo) + struct.pack(">I", len(mat)) + mat
        else:
            self.body = bytes([4]) + struct.pack(">IB", CTIME, self.algo) + mat

    def raw(self):
        from cryptography.hazmat.primitives import serialization as s
        return self.priv.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)

    def hashed_form(self):
        if self.version == 6:
            return b"\x9b" + struct.pack(">I", len(self.body)) + self.body
        return b"\x99" + struct.pack(">H", len(self.body)) + self.body

    def fpr(self):
        if self.version == 6:
            return hashlib.sha256(self.hashed_form()).digest()
        return hashlib.sha1(self.hashed_form()).digest()

    def keyid(self):
        return self.fpr()[:8] if self.version == 6 else self.fpr()[-8:]

    def sign_digest(self, h, dig):
        """Signature material over digest dig of hash id h."""
        pre = utils.Prehashed(HASHES[h][1]())
        if self.kind == "rsa":
            return mpi(self.priv.sign(dig, padding.PKCS1v15(), pre))
        if self.kind == "dsa" or self.kind in CURVES:
            if self.kind == "dsa":
                der = self.priv.sign(dig, pre)
            else:
                der = self.priv.sign(dig, ec.ECDSA(pre))
            r, s = utils.decode_dss_signature(der)
            return mpi(r) + mpi(s)
        sig = self.priv.sign(dig)
        if self.kind == "eddsa":
            return mpi(sig[:32]) + mpi(sig[32:])
        return sig


def uid_form(tag, body, sigver):
    if sigver == 3:
        return body
    return bytes([0xB4 if tag == 13 else 0xD1]) + struct.pack(">I", len(body)) + body


def make_sig(signer, typ, h, material, hashed_extra=b"", unhashed_extra=b"",
             primary=None):
    """A v4 or v6 (by the signer's version) signature packet body."""
    v = signer.version
    hashed = subpkt(2, struct.pack(">I", CTIME))
    hashed += subpkt(33, bytes([v]) + signer.fpr())
    hashed += hashed_extra
    unhashed = unhashed_extra
    if v == 4:
        unhashed = subpkt(16, signer.keyid()) + unhashed
        head = bytes([4, typ, signer.algo, h]) + struct.pack(">H", len(hashed)) + hashed
        trailer = b"\x04\xff" + struct.pack(">I", len(head))
        salt = b""
    else:
        head = bytes([6, typ, signer.algo, h]) + struct.pack(">I", len(hashed)) + hashed
        trailer = b"\x06\xff" + struct.pack(">I", len(head))
        salt = os.urandom(SALT[h])
    hh = hashlib.new(HASHES[h][0])
    hh.update(salt + material + head + trailer)
    dig = hh.digest()
    body = head
    body += struct.pack(">H" if v == 4 else ">I", len(unhashed)) + unhashed
    body += dig[:2]
    if v == 6:
        body += bytes([len(salt)]) + salt
    body += signer.sign_digest(h, dig)
    return body


class KeyFile:
    def __init__(self, primary):
        self.k = primary
        self.pkts = [packet(6, primary.body)]

    def add(self, tag, body):
        self.pkts.append(packet(tag, body))
        return len(self.pkts) - 1

    def uid(self, text, sigs):
        """sigs: list of (signer, type, hash)"""
        body = text.encode()
        self.add(13, body)
        for signer, typ, h in sigs:
            mat = self.k.hashed_form() + uid_form(13, body, signer.version)
            self.add(2, make_sig(signer, typ, h, mat))

    def direct(self, typ, h):
        self.add(2, make_sig(self.k, typ, h, self.k.hashed_form()))

    def subkey(self, sub, bindings):
        """bindings: list of (type, hash, flags or None, backsig mode)
        backsig mode: None, 'hashed', 'unhashed', 'corrupt'."""
        self.add(14, sub.body)
        mat = self.k.hashed_form() + sub.hashed_form()
        for typ, h, flags, back in bindings:
            hx, ux = b"", b""
            if flags is not None:
                hx += subpkt(27, bytes([flags]))
            if back is not None:
                emb = bytearray(make_sig(sub, 0x19, h, mat))
                if back == "corrupt":
                    emb[-1] ^= 0x01
                if back == "unhashed":
                    ux += subpkt(32, bytes(emb))
                else:
                    hx += subpkt(32, bytes(emb))
            self.add(2, make_sig(self.k, typ, h, mat, hx, ux))

    def write(self, name):
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), name), "wb") as f:
            f.write(b"".join(self.pkts))


def main():
    # RSA: every hash, every certification type, direct key, revocations,
    # a signing subkey with its 0x19, a revoked encryption subkey
    k = Key("rsa", 4, 2048)
    f = KeyFile(k)
    f.direct(0x1F, 8)
    f.direct(0x20, 8)
    f.uid("rsa hashes <rsa@sigverify.test>",
          [(k, 0x13, h) for h in (1, 2, 8, 9, 10, 11, 12, 14)]
          + [(k, 0x10, 8), (k, 0x11, 8), (k, 0x12, 8), (k, 0x30, 8)])
    f.subkey(Key("rsa", 4, 2048), [(0x18, 8, 0x02, "hashed")])
    f.subkey(Key("rsa", 4, 2048), [(0x18, 10, 0x0C, None), (0x28, 10, None, None)])
    f.write("v4-rsa.pgp")

    # DSA: 2048/256 with SHA-256 and SHA-512 (truncated to q), 1024/160
    # with SHA-1 and SHA-256 (truncated)
    for bits, hs in ((2048, (8, 10)), (1024, (2, 8))):
        k = Key("dsa", 4, bits)
        f = KeyFile(k)
        f.uid("dsa%d <dsa@sigverify.test>" % bits, [(k, 0x13, h) for h in hs])
        f.write("v4-dsa%d.pgp" % bits)

    # ECDSA on every curve; hashes as long as the curve and longer
    # (truncated); gpg wants no shorter ones
    for c in CURVES:
        k = Key(c, 4)
        f = KeyFile(k)
        hs = {"p384": (9, 10), "bp384": (9, 10), "p521": (10, 14),
              "bp512": (10, 14)}.get(c, (8, 10))
        f.uid("ecdsa %s <%s@sigverify.test>" % (c, c), [(k, 0x13, h) for h in hs])
        f.subkey(Key(c, 4), [(0x18, 10, 0x02, "hashed")])
        f.write("v4-ecdsa-%s.pgp" % c)

    # EdDSA legacy, and the embedded-binding cases on its subkeys:
    # good (hashed), good (unhashed), missing, corrupt, no key flags,
    # encryption-only flags (no 0x19 needed)
    k = Key("eddsa", 4)
    f = KeyFile(k)
    f.uid("eddsa backsig <eddsa@sigverify.test>", [(k, 0x13, 8)])
    f.subkey(Key("eddsa", 4), [(0x18, 8, 0x02, "hashed")])
    f.subkey(Key("eddsa", 4), [(0x18, 8, 0x02, "unhashed")])
    f.subkey(Key("eddsa", 4), [(0x18, 8, 0x02, None)])
    f.subkey(Key("eddsa", 4), [(0x18, 8, 0x02, "corrupt")])
    f.subkey(Key("eddsa", 4), [(0x18, 8, None, None)])
    f.subkey(Key("eddsa", 4), [(0x18, 8, 0x0C, None)])
    f.write("v4-eddsa-backsig.pgp")

    # RFC 9580 algorithms in v4 keys
    for kind in ("ed25519", "ed448"):
        k = Key(kind, 4)
        f = KeyFile(k)
        f.uid("%s v4 <%s@sigverify.test>" % (kind, kind), [(k, 0x13, 10), (k, 0x13, 14)])
        f.subkey(Key(kind, 4), [(0x18, 10, 0x02, "hashed")])
        f.write("v4-%s.pgp" % kind)

    # v6 keys: salted signatures, 0x9B key hashing
    for kind, bits in (("ed448", 0), ("ed25519", 0), ("rsa", 3072), ("p384", 0)):
        k = Key(kind, 6, bits or 2048)
        f = KeyFile(k)
        f.direct(0x1F, 10 if kind != "ed448" else 14)
        # Ed448 needs a >= 512-bit hash, Ed25519 >= 256 bits (RFC 9580
        # section 5.2.3.4): the last sig of each breaks that rule
        hs = (10, 14, 8) if kind == "ed448" else (8, 12, 14, 9, 11)
        f.uid("%s v6 <%s6@sigverify.test>" % (kind, kind), [(k, 0x13, h) for h in hs])
        f.subkey(Key(kind, 6, bits or 2048), [(0x18, 10, 0x02, "hashed")])
        f.write("v6-%s.pgp" % kind)


if __name__ == "__main__":
    sys.exit(main())
