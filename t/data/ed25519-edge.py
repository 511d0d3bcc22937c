#!/usr/bin/python3
# Writes t/data/ed25519-edge.txt: Ed25519 edge cases for
# t/unit/test_ed25519.c, which checks that shared/ed25519.c gives OpenSSL's
# verdict on each (the verdict is not stored: OpenSSL decides it at test
# time). One line per case: "pub sig msg" in hex (msg may be "-" = empty).
# Cases: small-order and non-canonical public keys (y >= p, x = 0 with the
# sign bit) with signatures that hold in the group (found by trying R =
# [s]B - [j]A until SHA-512 gives k = j mod the order of A) and ones that do
# not; small-order and non-canonical R; S at and around L.
# Pure Python curve arithmetic from RFC 8032 section 5.1; deterministic.
import hashlib

p = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
d = (-121665 * pow(121666, p - 2, p)) % p
I = pow(2, (p - 1) // 4, p)

def inv(x): return pow(x, p - 2, p)
# points as affine (x, y) at the interface; extended (X, Y, Z, T) inside mul
def ext(P): return (P[0], P[1], 1, P[0] * P[1] % p)
def aff(E): zi = inv(E[2]); return (E[0] * zi % p, E[1] * zi % p)
def eadd(P, Q):   # a = -1 twisted Edwards, RFC 8032 section 5.1.4
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % p; B = (P[1] + P[0]) * (Q[1] + Q[0]) % p
    C = 2 * d * P[3] * Q[3] % p; D = 2 * P[2] * Q[2] % p
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % p, G * H % p, F * G % p, E * H % p)
def add(P, Q): return aff(eadd(ext(P), ext(Q)))
def mul(k, P):
    R, Q = (0, 1, 1, 0), ext(P)
    while k:
        if k & 1: R = eadd(R, Q)
        Q = eadd(Q, Q); k >>= 1
    return aff(R)
def neg(P): return ((-P[0]) % p, P[1])
def enc(P): return (P[1] | ((P[0] & 1) << 255)).to_bytes(32, 'little')
def recover_x(y, sign):
    u, v = (y * y - 1) % p, (d * y * y + 1) % p
    x = u * pow(v, 3, p) * pow(u * pow(v, 7, p), (p - 5) // 8, p) % p
    if v * x * x % p != u % p:
        if v * x * x % p != (-u) % p: return None
        x = x * I % p
    if (x & 1) != sign: x = (-x) % p
    return x
def dec(b):   # as OpenSSL and Go decode: y mod p, the sign also for x = 0
    n = int.from_bytes(b, 'little'); y = (n & (2**255 - 1)) % p
    x = recover_x(y, n >> 255)
    return None if x is None else (x, y)

By = 4 * inv(5) % p
B = (recover_x(By, 0), By)
def H(*parts): return int.from_bytes(hashlib.sha512(b''.join(parts)).digest(), 'little')

out = []
def case(pub, sig, msg): out.append('%s %s %s' % (pub.hex(), sig.hex(), msg.hex() or '-'))

# the small-order points: the 8 points of order dividing 8
T8 = None
for cand in range(2, 400):   # a point of order 8: [L]P for points P until one has order 8
    x = recover_x(cand, 0)
    if x is None: continue
    Q = mul(L, (x, cand))
    if mul(4, Q) != (0, 1):
        T8 = Q; break
small = [mul(i, T8) for i in range(8)]
keys = []
for P in small:
    e = enc(P)
    keys.append(e)
    n = int.from_bytes(e, 'little')
    if P[0] == 0:
        keys.append((n | (1 << 255)).to_bytes(32, 'little'))          # x = 0, sign set
    if P[1] < 19:
        keys.append((n + p).to_bytes(32, 'little'))                   # y + p
# non-canonical encodings of other points: y in [p, 2^255)
for y in range(19):
    for sign in (0, 1):
        b = ((p + y) | (sign << 255)).to_bytes(32, 'little')
        if dec(b) is not None and b not in keys: keys.append(b)
# a y with no point, a y with x = 0 impossible... and a random good key
keys.append((2).to_bytes(32, 'little'))
a_good = 0x1234567890abcdef % L
keys.append(enc(mul(a_good, B)))

for ki, pub in enumerate(keys):
    A = dec(pub)
    for mi in range(6):
        msg = b'edge %d %d' % (ki, mi)
        s = H(msg, pub) % L
        found = False
        if A is not None:
            for j in range(8 if pub != keys[-1] else 1):
                Rp = add(mul(s, B), neg(mul(j, A)))
                R = enc(Rp)
                k = H(R, pub, msg) % L
                if add(mul(s, B), neg(mul(k, A))) == Rp:
                    case(pub, R + s.to_bytes(32, 'little'), msg); found = True
                    break
        # and an R that does not hold
        R = enc(mul(s + 1, B))
        case(pub, R + s.to_bytes(32, 'little'), msg)
    # S at and around L, and the top bits
    for S in (0, 1, L - 1, L, L + 1, L + 2**200, 2**253 - 1, 2**255, 2**256 - 1):
        msg = b'S %d' % ki
        R = enc(mul(S % L, B))
        case(pub, R + S.to_bytes(32, 'little'), msg)

# small-order and non-canonical R with A the identity and S = 0: [0]B = identity
ident = enc((0, 1))
for R in [enc(P) for P in small] + [(1 | 1 << 255).to_bytes(32, 'little'),
                                   (p + 1).to_bytes(32, 'little'),
                                   ((p + 1) | 1 << 255).to_bytes(32, 'little')]:
    case(ident, R + bytes(32), b'R')
# a valid signature with a small-order R: A = [a]B + T, R chosen so that the
# equation holds with the torsion parts
for i in range(1, 8):
    A = add(mul(a_good, B), small[i]); pub = enc(A)
    for t in range(40):
        msg = b'tors %d %d' % (i, t)
        r = H(msg) % L
        for j in range(8):
            Rp = add(mul(r, B), small[j]); R = enc(Rp)
            k = H(R, pub, msg) % L
            s = (r + k * a_good) % L
            if add(mul(s, B), neg(mul(k, A))) == Rp:
                case(pub, R + s.to_bytes(32, 'little'), msg)
                break

with open(__file__.replace('-edge.py', '-edge.txt'), 'w') as f:
    f.write('\n'.join(out) + '\n')
print(len(out), 'cases')
