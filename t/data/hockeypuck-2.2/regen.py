#!/usr/bin/env python3
"""Regenerates the trimmed Hockeypuck 2.2 vectors of this directory from the
kit's spec/vectors/hockeypuck-2.2 (its debian corpus is ~28 MB, too big to
keep here).

    t/data/hockeypuck-2.2/regen.py /path/to/kit/spec/vectors/hockeypuck-2.2

Writes, next to this script:
  debian-sample.pgp         the debian keys chosen below, in corpus order
  debian-sample-stored.pgp  what Hockeypuck stored for the chosen keys whose
                            Hockeypuck hash differs from SKS's (in order)
  hostile-stored.pgp        what Hockeypuck stored for the hostile keys
  hashes.tsv                the kit's: set, index in the corpus file,
                            primary fingerprint, Hockeypuck's md5 (or
                            DROPPED), for all 930 keys (the debian corpus
                            is Debian 12's debian-keyring.gpg, which tests
                            use when it is installed)
  debian-sample.tsv         the rows of hashes.tsv for debian-sample.pgp
  differences.tsv           the kit's list of keys whose hash differs from
                            SKS's, and why
The hostile keys themselves are hostile/*.pgp (one file each, copied from
the kit; their concatenation is the kit's corpus-hostile.pgp).

Chosen debian keys: every key in differences.tsv; then, of the keys under
SAMPLE_MAX_BYTES, every 14th key and the first PER_ALGO keys of each
primary and each subkey algorithm (so every algorithm of the keyring is in
the sample) -- about 2 MB in all.
"""
import os
import shutil
import sys

STRIDE = 14
SAMPLE_MAX_BYTES = 40000
PER_ALGO = 3


def packets(buf):
    """(tag, header+body bytes, body) of each packet; lengths checked."""
    i, out = 0, []
    while i < len(buf):
        start, h = i, buf[i]
        if not h & 0x80:
            raise ValueError('bad packet header at %d' % i)
        if h & 0x40:
            tag, l = h & 0x3F, buf[i + 1]
            if l < 192:
                n, i = l, i + 2
            elif l < 224:
                n, i = ((l - 192) << 8) + buf[i + 2] + 192, i + 3
            elif l == 255:
                n, i = int.from_bytes(buf[i + 2:i + 6], 'big'), i + 6
            else:
                raise ValueError('partial length at %d' % i)
        else:
            tag, lt = (h >> 2) & 0xF, h & 3
            if lt == 3:
                raise ValueError('indeterminate length at %d' % i)
            w = (1, 2, 4)[lt]
            n, i = int.from_bytes(buf[i + 1:i + 1 + w], 'big'), i + 1 + w
        if i + n > len(buf):
            raise ValueError('packet past the end at %d' % start)
        out.append((tag, buf[start:i + n], buf[i:i + n]))
        i += n
    return out


def keys(buf):
    ks = []
    for p in packets(buf):
        if p[0] == 6:
            ks.append([])
        if ks:
            ks[-1].append(p)
    return ks


def algo(body):
    return body[5] if body[0] >= 4 else body[7]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    kit, here = sys.argv[1], os.path.dirname(os.path.abspath(__file__))
    rows = [l.rstrip('\n').split('\t')
            for l in open(os.path.join(kit, 'hashes.tsv'))][1:]
    diffs = [l.rstrip('\n').split('\t')
             for l in open(os.path.join(kit, 'differences.tsv'))][1:]
    differing = {int(d[1]) for d in diffs if d[0] == 'debian'}

    deb = keys(open(os.path.join(kit, 'corpus-debian.pgp'), 'rb').read())
    chosen, seen = [], {}
    for i, k in enumerate(deb):
        size = sum(len(p[1]) for p in k)
        algos = {('primary', algo(k[0][2]))}
        algos |= {('subkey', algo(b)) for t, _, b in k if t == 14}
        new = [a for a in algos if seen.get(a, 0) < PER_ALGO]
        if i in differing or (size <= SAMPLE_MAX_BYTES
                              and (i % STRIDE == 0 or new)):
            chosen.append(i)
            for a in algos:
                seen[a] = seen.get(a, 0) + 1
    with open(os.path.join(here, 'debian-sample.pgp'), 'wb') as f:
        for i in chosen:
            f.write(b''.join(p[1] for p in deb[i]))

    drows = {int(r[1]): r for r in rows if r[0] == 'debian'}
    stored = keys(open(os.path.join(kit, 'hockeypuck-stored-debian.pgp'),
                       'rb').read())
    kept = [i for i in sorted(drows) if drows[i][3] != 'DROPPED']
    if len(kept) != len(stored):
        sys.exit('stored debian keys do not line up with hashes.tsv')
    by_index = dict(zip(kept, stored))
    with open(os.path.join(here, 'debian-sample-stored.pgp'), 'wb') as f:
        for i in chosen:
            if i in differing and i in by_index:
                f.write(b''.join(p[1] for p in by_index[i]))
    shutil.copyfile(os.path.join(kit, 'hockeypuck-stored-hostile.pgp'),
                    os.path.join(here, 'hostile-stored.pgp'))
    shutil.copyfile(os.path.join(kit, 'differences.tsv'),
                    os.path.join(here, 'differences.tsv'))
    os.makedirs(os.path.join(here, 'hostile'), exist_ok=True)
    for name in sorted(os.listdir(os.path.join(kit, 'hostile'))):
        shutil.copyfile(os.path.join(kit, 'hostile', name),
                        os.path.join(here, 'hostile', name))

    shutil.copyfile(os.path.join(kit, 'hashes.tsv'),
                    os.path.join(here, 'hashes.tsv'))
    with open(os.path.join(here, 'debian-sample.tsv'), 'w') as f:
        f.write('set\tindex-in-file\tprimary-fingerprint\thockeypuck-md5-hex\n')
        for i in chosen:
            f.write('\t'.join(drows[i]) + '\n')
    print('%d debian keys chosen (%d differ from SKS)'
          % (len(chosen), len(differing & set(chosen))))


if __name__ == '__main__':
    main()
