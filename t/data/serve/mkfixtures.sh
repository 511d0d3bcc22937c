#!/bin/sh
# Regenerates the serve policy fixtures (t/38-serve-policy.t, t/unit/test_serve.c)
# with Sequoia's sq 0.27 and gpg 2.2 (Debian 12). Not run by the tests: the
# keys are committed, so no test generates keys. Every key: Ed25519 with sq's
# default subkeys, no expiry.
#   signer.pgp  "Signer <signer@example.org>"
#   other.pgp   "Other Signer <other@example.org>"
#   victim.pgp  "Victim <victim@example.org>", certified by signer
#   hard.pgp    "Hard Revoked <hard@example.org>", certified by signer, then
#               revoked "compromised" (reason 2)
#   soft.pgp    "Soft Revoked <soft@example.org>", revoked "superseded" (1)
#   att.pgp     "Attested <att@example.org>", certified by signer and by
#               other; only signer's certification is attested (1PA3PC)
#   alice.pgp   "Alice Public <alice@example.org>" and
#               "Alice Hidden <hidden-alias@example.org>" (redaction)
# The secret keys (*.key) are deleted at the end.
set -e
cd "$(dirname "$0")"
G=$(mktemp -d)
trap 'gpgconf --homedir "$G" --kill all; rm -rf "$G" *.tmp' EXIT
fpr() { sq inspect "$1" | awk '/Fingerprint:/ { print $2; exit }'; }
gen() {
    sq key generate --expires never --userid "$2" ${3:+--userid "$3"} --export "$1.key"
    rm -f "$1.key.rev"
    sq key extract-cert -o "$1.pgp" "$1.key"
}
# A bare revocation signature: gpg puts it after the primary key.
withrev() {
    gpg --homedir "$G" --batch -q --import "$1.pgp" "$2"
    gpg --homedir "$G" --armor --export "$(fpr "$1.pgp")" > "$1.tmp"
    mv "$1.tmp" "$1.pgp"
}
rm -f ./*.pgp ./*.key ./*.tmp
gen signer "Signer <signer@example.org>"
gen other "Other Signer <other@example.org>"
gen victim "Victim <victim@example.org>"
gen hard "Hard Revoked <hard@example.org>"
gen soft "Soft Revoked <soft@example.org>"
gen att "Attested <att@example.org>"
gen alice "Alice Public <alice@example.org>" "Alice Hidden <hidden-alias@example.org>"

sq --force certify -o c.tmp signer.key victim.pgp "Victim <victim@example.org>"
sq --force keyring merge -o victim.pgp victim.pgp c.tmp

sq --force certify -o c.tmp signer.key hard.pgp "Hard Revoked <hard@example.org>"
sq --force keyring merge -o hard.pgp hard.pgp c.tmp
sleep 1
sq revoke certificate --certificate hard.key compromised "lost it" > r.tmp
withrev hard r.tmp

sq revoke certificate --certificate soft.key superseded "new key" > r.tmp
withrev soft r.tmp

sq --force certify -o c1.tmp signer.key att.pgp "Attested <att@example.org>"
sq --force certify -o c2.tmp other.key att.pgp "Attested <att@example.org>"
sq --force keyring merge -o k1.tmp att.key c1.tmp
sq --force key attest-certifications --all -o k2.tmp k1.tmp
sq --force key extract-cert -o a.tmp k2.tmp
sq --force keyring merge -o att.pgp a.tmp c2.tmp


# alice gets a photo ID (user attribute) of about 3 KB (a JPEG header and
# random bytes: nobody looks at it)
{ printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000'
  head -c 3000 /dev/urandom; printf '\377\331'; } > photo.tmp
gpg --homedir "$G" --batch -q --import alice.key
printf '%s\ny\n' "$PWD/photo.tmp" | gpg --homedir "$G" --batch -q \
    --pinentry-mode loopback --passphrase '' --command-fd 0 \
    --edit-key "$(fpr alice.pgp)" addphoto save >/dev/null
gpg --homedir "$G" --armor --export "$(fpr alice.pgp)" > alice.tmp
mv alice.tmp alice.pgp
rm -f ./*.key
