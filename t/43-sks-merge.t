#!/usr/bin/perl
# POST /pks/add merges exactly like a real SKS: the same sequence of uploads
# sent to Debian's sks 1.1.6 (started here on 127.0.0.2, HKP only in use) and
# to nginx + the module (over an empty db) leaves, for every key, one stored
# version with the same SKS hash on both servers.
#
# Sequences (each on its own keys):
#   (a) new keys (t/data, a Debian key, a synthetic key);
#   (b) a key first without one UID, then with it;
#   (c) a key first without its subkey, then with it;
#   (d) third-party certifications added later (Debian key, gpg key);
#   (e) a key revocation signature added later (gpg's revocation cert);
#   (f) the same upload twice (also: same packets with other headers);
#   (g) fragments of a key (primary + direct sigs, primary + one UID + sigs,
#       primary + subkey + sigs, bare primary, signature subsets) uploaded
#       in different orders, several in one block, interleaved with others;
#   (h) k3-dupsig then k3-ed25519 (a duplicate signature is kept while the
#       UID occurs once, collapses on merge), and a synthetic duplicate
#       signature merged with a fragment that does not touch that UID.
# After every step the keys it touched are compared; at the end every key
# is compared again and each side's hash is fetched from the other side
# with op=hget.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use File::Path qw(make_path);
use HkpTest qw(:all);
use SksPeer;

plan skip_all => 'sks not installed' unless SksPeer::available();
my $PY = '/usr/bin/python3';
my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
for my $c (qw(gpg gpgconf)) {
    BAIL_OUT("$c is not installed (./build.sh test installs it)") unless have_cmd($c);
}
BAIL_OUT("$KEYRING missing (apt-get install debian-keyring)") unless -r $KEYRING;
BAIL_OUT('python3-cryptography missing (needed by bench/synth-keys.py)')
    unless run_cmd([$PY, '-c', 'import cryptography'])->{rc} == 0;

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();

# ------------------------------------------------------------------ helpers

sub armored_file_pkts {            # all packets of the first block of a t/data file
    my ($f) = @_;
    my ($b) = dearmor(slurp($f) // die "read $f");
    die "no armor in $f" unless $b;
    return parse_packets($b->[0]);
}

sub kid { substr($_[0], -16) }     # 64-bit key ID from a fingerprint

# Signature type and issuer key ID (upper-case hex, or '') of a v3/v4 sig.
sub sig_info {
    my ($body) = @_;
    my $v = ord $body;
    return (ord(substr($body, 2, 1)), uc unpack('H*', substr($body, 7, 8))) if $v == 3;
    return (-1, '') unless $v == 4;
    my $type = ord substr($body, 1, 1);
    my $hl = unpack 'n', substr($body, 4, 2);
    my $ul = unpack 'n', substr($body, 6 + $hl, 2);
    my $issuer = '';
    for my $area (substr($body, 6, $hl), substr($body, 8 + $hl, $ul)) {
        my $i = 0;
        while ($i < length $area) {
            my $o = ord substr($area, $i++, 1);
            my $len;
            if ($o < 192) { $len = $o }
            elsif ($o < 255) { $len = (($o - 192) << 8) + ord(substr($area, $i++, 1)) + 192 }
            else { $len = unpack 'N', substr($area, $i, 4); $i += 4 }
            last if $len < 1 || $i + $len > length $area;
            my $st = ord(substr($area, $i, 1)) & 0x7f;
            my $d = substr($area, $i + 1, $len - 1);
            $issuer = uc unpack('H*', $d) if $st == 16 && length $d == 8;
            $issuer = uc unpack('H*', substr($d, -8)) if $st == 33 && length $d == 21;
            $i += $len;
        }
    }
    return ($type, $issuer);
}

# A key as a structure: {pk, direct => [sigs], blocks => [[packet, sigs...], ...]}
sub structure {
    my ($k) = @_;
    my $s = { pk => $k->[0], direct => [], blocks => [] };
    my $i = 1;
    push @{ $s->{direct} }, $k->[$i++] while $i < @$k && $k->[$i]{tag} == 2;
    while ($i < @$k) {
        my @b = ($k->[$i++]);
        push @b, $k->[$i++] while $i < @$k && $k->[$i]{tag} == 2;
        push @{ $s->{blocks} }, \@b;
    }
    return $s;
}

# Fragments: [primary + direct sigs] and [primary + block] per UID/UAT/subkey.
sub fragments {
    my ($k) = @_;
    my $s = structure($k);
    return ([$s->{pk}, @{ $s->{direct} }], map { [$s->{pk}, @$_] } @{ $s->{blocks} });
}

# The key with only the signatures accepted by $keep->($sig, $block_head).
sub filter_sigs {
    my ($k, $keep) = @_;
    my $s = structure($k);
    my @out = ($s->{pk}, grep { $keep->($_, $s->{pk}) } @{ $s->{direct} });
    for my $b (@{ $s->{blocks} }) {
        push @out, $b->[0], grep { $keep->($_, $b->[0]) } @$b[1 .. $#$b];
    }
    return \@out;
}

sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge; return $s }

# ------------------------------------------------------------------ keys

# Synthetic keys (cached under build/: same arguments give the same bytes).
my $cache = "$ROOT/build/t43";
make_path($cache);
my $synth_f = "$cache/synth-8-u3.pgp";
if (!-s $synth_f || -M $synth_f > -M "$ROOT/bench/synth-keys.py") {
    my $r = run_cmd([$PY, "$ROOT/bench/synth-keys.py", 8, '--seed', 't43-sks-merge',
                     '--uids', 3], timeout => 60);
    die "synth-keys.py failed: $r->{err}" if $r->{rc} || !length $r->{out};
    spew("$synth_f.$$", $r->{out});
    rename "$synth_f.$$", $synth_f or die "rename: $!";
}
my @S = split_keys(parse_packets(slurp($synth_f)));     # key i has 1 + i % 3 UIDs
die 'expected 8 synthetic keys' unless @S == 8;

# Two Debian keys with many third-party certifications, UID revocations (0x30)
# and subkey revocations (0x28), chosen deterministically (largest first
# under a size cap, so SKS's 5 MiB body limit is never near).
my @D;
{
    my @cand;
    for my $k (split_keys(parse_packets(slurp($KEYRING)))) {
        my (%t, $third) = ();
        my $own = kid(key_fpr($k) // next);
        for my $p (@$k) {
            next unless $p->{tag} == 2;
            my ($type, $iss) = sig_info($p->{body});
            $t{$type}++;
            $third++ if $iss ne '' && $iss ne $own;
        }
        my $len = length packets_bin($k);
        next unless $t{0x30} && $t{0x28} && ($third // 0) >= 5 && $len < 200_000;
        push @cand, [$len, key_fpr($k), $k];
    }
    @D = map { $_->[2] } (sort { $b->[0] <=> $a->[0] || $a->[1] cmp $b->[1] } @cand)[0, 1];
    die 'no suitable Debian keys' unless @D == 2 && $D[1];
}

# gpg: a key's real life: created with one UID and no subkey, subkey added,
# UID added, certified by another key, revoked.
my $gh = gpg_home(keyserver => 'hkp://127.0.0.1:9');
sub gpg_ok {
    my $r = gpg($gh, @_);
    die "gpg @_: $r->{err}" if $r->{rc};
    return $r->{out};
}
sub gen_key {
    my ($uid) = @_;
    gpg_ok('--passphrase', '', '--quick-gen-key', $uid, 'ed25519', 'sign', 'never');
    my ($fpr) = gpg_ok('--with-colons', '--list-keys', "=$uid") =~ /^fpr:+([0-9A-F]{40}):/m;
    die "no fingerprint for $uid" unless $fpr;
    return $fpr;
}
sub gpg_export { my ($fpr) = @_; return parse_packets(gpg_ok('--export', $fpr)) }

my %G;
{
    my $g = gen_key('Gina Lifecycle <gina@example.org>');
    my $h = gen_key('Hugo Certifier <hugo@example.org>');
    $G{fpr} = $g;
    $G{h} = gpg_export($h);
    $G{v0} = gpg_export($g);                           # primary + UID + selfsig
    gpg_ok('--passphrase', '', '--quick-add-key', $g, 'cv25519', 'encr', 'never');
    $G{v1} = gpg_export($g);                           # + subkey
    gpg_ok('--passphrase', '', '--quick-add-uid', $g, 'Gina Second <gina2@example.net>');
    $G{v2} = gpg_export($g);                           # + UID
    gpg_ok('--passphrase', '', '-u', $h, '--quick-sign-key', $g);
    $G{v3} = gpg_export($g);                           # + Hugo's certifications
    my $rev = slurp("$gh/openpgp-revocs.d/$g.rev") // die "no revocation cert for $g";
    $rev =~ s/^:-----BEGIN/-----BEGIN/m;               # gpg's guard against accidental import
    my ($rb) = dearmor($rev);
    my $rp = parse_packets($rb->[0]);
    die 'revocation cert is not one 0x20 signature'
        unless @$rp == 1 && $rp->[0]{tag} == 2 && (sig_info($rp->[0]{body}))[0] == 0x20;
    $G{rev} = $rp->[0];
}

# ------------------------------------------------------------------ servers

my $seed_f = "$T/seed.pgp";              # sks build needs >= 1 key; k5 is not used below
spew($seed_f, packets_bin(armored_file_pkts("$DATA/k5-ed25519.asc")));
my $sks = SksPeer->start(dir => "$T/sks", keys => [$seed_f], dontgossip => 1, debuglevel => 4);
my $SKS = $sks->hkp_url;
note "sks at $SKS";

my $db = "$T/db";
import_keys($db);                        # empty store
# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $OURS = start_nginx(db => $db, workers => 2, conf => 'hkp_serve_policy full;');
note "nginx at $OURS";

# Stored versions of a key: the SKS hashes listed by op=index&hash=on for its
# 64-bit key ID (SKS lists every stored key that has that ID). clean=off:
# by default SKS hashes the key as displayed (UIDs and subkeys without
# signatures dropped), which is not the hash it stores.
sub stored_hashes {
    my ($base, $fpr) = @_;
    my $r = http_get("$base/pks/lookup?op=index&hash=on&clean=off&search=0x" . kid($fpr));
    return ["HTTP $r->{status}"] unless $r->{status} == 200;
    return [sort map { uc } $r->{content} =~ /Hash=<a href=[^>]*>([0-9A-Fa-f]{32})</g];
}

my %touched;                             # fpr => label
my $step = 0;

sub compare {
    my ($what, $fpr) = @_;
    my $s = stored_hashes($SKS, $fpr);
    my $o = stored_hashes($OURS, $fpr);
    my $ok = is("@$o", "@$s", "$what: $touched{$fpr} (" . substr($fpr, -8) . ") ours == SKS");
    $ok = is(scalar @$s, 1, "$what: $touched{$fpr}: one stored version") && $ok;
    # and SKS really stores our hash (op=hget looks the hash up in its DB)
    $ok = is($sks->hget($o->[0] // 'none'), 200, "$what: $touched{$fpr}: SKS has our hash")
        && $ok;
    diag "SKS: @$s; ours: @$o" unless $ok;
    return $ok;
}

# upload($desc, [label => packets], ...): one armor block holding these keys,
# POSTed to both servers, then every key in it compared.
sub upload {
    my ($desc, @items) = @_;
    $step++;
    my (@bin, @fprs);
    while (my ($label, $pk) = splice @items, 0, 2) {
        my $fpr = key_fpr($pk) // die "upload $desc: no v4 primary";
        $touched{$fpr} //= $label;
        push @fprs, $fpr;
        push @bin, packets_bin($pk);
    }
    my $body = 'keytext=' . urlenc(enarmor(join '', @bin));
    my %h = ('Content-Type' => 'application/x-www-form-urlencoded');
    my $rs = http_req('POST', "$SKS/pks/add", \%h, $body);
    my $ro = http_req('POST', "$OURS/pks/add", \%h, $body);
    ok($rs->{status} == 200 && $rs->{content} !~ /Add failed/
       && $rs->{content} =~ /(\d+) key\(s\) added successfully/ && $1 == @fprs,
       "step $step ($desc): SKS accepts every key of the upload")
        or diag "HTTP $rs->{status}: " . substr($rs->{content}, 0, 500);
    is($ro->{status}, 200, "step $step ($desc): ours accepts the upload")
        or diag substr($ro->{content}, 0, 500);
    my %seen;
    compare("step $step ($desc)", $_) for grep { !$seen{$_}++ } @fprs;
}

# ------------------------------------------------------------------ sequences

my %F = map { $_ => armored_file_pkts("$DATA/$_.asc") }
    qw(k1-ed25519 k1-newformat-headers k2-rsa2048 k3-dupsig k3-ed25519 k4-repeated-blocks
       k4-ed25519 debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE);

# (a) new keys
upload('a: new key k1', k1 => $F{'k1-ed25519'});
upload('a: new key k2 (RSA)', k2 => $F{'k2-rsa2048'});
upload('a: new Debian key', debian7DF3 => $F{'debian-7DF3D4B58EAD38D84E554E3B68530A812B47DCDE'});
upload('a: new synthetic key', S0 => $S[0]);

# (f) the same upload twice; the same packets with other packet headers
upload('f: k2 again', k2 => $F{'k2-rsa2048'});
upload('f: k1 with new-format headers', k1 => $F{'k1-newformat-headers'});
upload('f: S0 again', S0 => $S[0]);

# (b) a UID added later: S1 has two UIDs
{
    my ($head, $u0, $u1, $sub) = fragments($S[1]);
    upload('b: S1 without its second UID', S1 => [@$head, @$u0[1 .. $#$u0], @$sub[1 .. $#$sub]]);
    upload('b: S1 full key (second UID added)', S1 => $S[1]);
}

# (c) a subkey added later: S2 has three UIDs
{
    my ($head, @blocks) = fragments($S[2]);
    my $sub = pop @blocks;
    upload('c: S2 without its subkey', S2 => [@$head, map { @$_[1 .. $#$_] } @blocks]);
    upload('c: S2 subkey fragment', S2 => $sub);
    upload('c: S2 full key (no change)', S2 => $S[2]);
}

# (g) fragments in different orders
{
    my @fr = fragments($S[4]);                 # head, uid0, uid1, subkey
    upload("g: S4 fragment $_", S4 => $fr[$_]) for 0 .. $#fr;
    upload('g: S4 full key (no change)', S4 => $S[4]);

    my @f5 = fragments($S[5]);                 # head, uid0..2, subkey
    upload('g: S5 bare primary key', S5 => [$f5[0][0]]);
    upload("g: S5 fragment $_ (reverse order)", S5 => $f5[$_]) for reverse 1 .. $#f5;

    my @f7 = fragments($S[7]);                 # head, uid0, uid1, subkey
    upload('g: S7 two fragments of one key in one block', S7 => $f7[2], S7 => $f7[3]);
    upload('g: S7 + S6 + S5 in one block', S7 => $f7[1], S6 => $S[6], S5 => $f5[1]);
    upload('g: S6 + S7 head + S4 subkey', S6 => $S[6], S7 => $f7[0], S4 => $fr[3]);
}

# (d) third-party certifications added later (Debian keys), with UID and
# subkey revocations arriving later too, in pieces.
for my $n (0, 1) {
    my $k = $D[$n];
    my $label = "D$n";
    my $own = kid(key_fpr($k));
    my $self = sub { my ($t, $i) = sig_info($_[0]{body}); $i eq $own && $t != 0x30 && $t != 0x28 };
    upload("d: $label self-signatures only", $label => filter_sigs($k, $self));
    # every second third-party certification, per UID fragment
    my $cnt = 0;
    upload("d: $label some third-party certifications", $label =>
           filter_sigs($k, sub { $self->($_[0]) || ($_[1]{tag} != 14 && $cnt++ % 2 == 0) }));
    # one UID block with an overlapping subset (first half of its sigs)
    my ($head, @blocks) = fragments($k);
    my ($big) = sort { @$b <=> @$a } grep { $_->[1]{tag} != 14 } @blocks;
    upload("d: $label one UID with half its signatures",
           $label => [@$big[0 .. 1 + int((@$big - 2) / 2)]]);
    if ($n == 0) {
        upload("d/e: $label full key (revocations, all certifications)", $label => $k);
    } else {
        upload("d/e: $label fragments in reverse", $label => $_) for reverse $head, @blocks;
    }
}

# (b)-(e) with gpg: a key's life as a client would upload it
upload('gpg: Gina created', Gina => $G{v0});
upload('gpg: Hugo created', Hugo => $G{h});
upload('c: Gina subkey added', Gina => $G{v1});
upload('b: Gina UID added', Gina => $G{v2});
upload('d: Gina certified by Hugo', Gina => $G{v3});
upload('e: Gina revocation signature', Gina => [$G{v3}[0], $G{rev}]);
upload('f: Gina old export again', Gina => $G{v1});

# (h) the duplicate-signature quirk
upload('h: k3-dupsig', k3 => $F{'k3-dupsig'});
upload('h: k3-ed25519 merged on top', k3 => $F{'k3-ed25519'});
upload('h: k4 repeated blocks', k4 => $F{'k4-repeated-blocks'});
upload('h: k4 plain (no change)', k4 => $F{'k4-ed25519'});
{
    # synthetic: S3's UID signature given twice, then fragments that do and
    # do not repeat that UID
    my ($head, $u0, $sub) = fragments($S[3]);
    upload('h: S3 with a duplicate UID signature',
           S3 => [@$head, $u0->[1], $u0->[2], $u0->[2], @$sub[1 .. $#$sub]]);
    upload('h: S3 subkey fragment', S3 => $sub);
    upload('h: S3 UID fragment (duplicate collapses)', S3 => $u0);
}

# ------------------------------------------------------------------ final

my $all_ok = 1;
my %final;
for my $fpr (sort { $touched{$a} cmp $touched{$b} } keys %touched) {
    $all_ok &&= compare('final', $fpr);
    my $s = stored_hashes($SKS, $fpr);
    $final{$fpr} = $s->[0] if @$s == 1;
}
for my $fpr (sort keys %final) {
    my $h = $final{$fpr};
    is(http_get("$OURS/pks/lookup?op=hget&options=mr&search=$h")->{status}, 200,
       "final: $touched{$fpr}: ours serves SKS's hash $h");
    is($sks->hget($h), 200, "final: $touched{$fpr}: SKS serves it too");
}
is(scalar keys %final, scalar keys %touched, 'SKS listed one version of every key');
note sprintf '%d keys, %d uploads', scalar keys %touched, $step;

done_testing;
