#!/usr/bin/perl
# op=index / op=vindex (HTML) head a key with its primary user ID and name
# each signer by the signer's primary user ID, as SKS does (doc/hkp.md
# 3.4.4): keys made with gpg (--quick-set-primary-uid, --quick-revoke-uid,
# --quick-sign-key) are imported and the pages compared with a real SKS
# (Debian's sks, started here on 127.0.0.2) built from the same keys.
# Where we differ on purpose (a primary user ID that was revoked does not
# head the key while another one is valid) only our answer is checked.
# Also: revocation lines stand out, hkp_vindex_signer_lookups 0 names no
# signer, and the machine-readable index keeps the stored order.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use SksPeer;

BAIL_OUT('gpg is not installed (./build.sh test installs it)') unless have_cmd('gpg');

my $T = tmpdir();
my $gh = gpg_home(keyserver => 'hkp://127.0.0.1:9');

sub g {
    my $r = gpg($gh, '--passphrase', '', '--pinentry-mode', 'loopback', @_);
    die "gpg @_: $r->{err}" if $r->{rc};
    return $r;
}

sub gen_key {
    my ($uid) = @_;
    g('--quick-gen-key', $uid, 'ed25519', 'sign', 'never');
    my ($fpr) = g('--with-colons', '--list-keys', "=$uid")->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
    die "no fingerprint for $uid" unless $fpr;
    return $fpr;
}

sub esc { my $s = shift; $s =~ s/&/&amp;/g; $s =~ s/</&lt;/g; $s =~ s/>/&gt;/g; return $s }

# The user IDs of an HTML index entry, headline first.
sub index_uids {
    my ($html) = @_;
    my ($entry) = $html =~ m{\npub (.*?)</pre>}s or return ();
    my ($head, @rest) = split /\n/, $entry;
    my ($h) = $head =~ m{op=vindex[^"]*">([^<]*)</a>} or return ();
    return ($h, map { s/^\s+//r } grep { /\S/ } @rest);
}

# The user IDs of an HTML vindex page in page order.
sub vindex_uids { return $_[0] =~ m{<(?:strong|b)>uid</(?:strong|b)> <span class="uid">([^<]*)</span>}g }

# Signer names of a vindex page: long key ID -> name (self-signatures left
# out: SKS links "[selfsig]" to the key itself).
sub vindex_signers {
    my %s;
    while ($_[0] =~ m{op=vindex&amp;search=0x([0-9A-F]{16})">([^<]*)</a>}g) {
        $s{$1} = $2 unless $2 eq '[selfsig]';
    }
    return \%s;
}

# Every key is first stored with its user IDs in creation order and no
# primary flag (version 1), then merged with its final version, so that
# the stored order is not the order gpg would export.
# P: the first user ID revoked, the second one primary; certified by S.
my $P = gen_key('Pat Alpha <pat@a.example>');
g('--quick-add-uid', $P, 'Pat Beta <pat@b.example>');
# Q: three user IDs, the middle one primary, nothing revoked.
my $Q = gen_key('Quinn One <q1@q.example>');
g('--quick-add-uid', $Q, 'Quinn Two <q2@q.example>');
g('--quick-add-uid', $Q, 'Quinn Three <q3@q.example>');
# R: the primary user ID was revoked later; the other one is valid.
my $R = gen_key('Rae One <r1@r.example>');
g('--quick-add-uid', $R, 'Rae Two <r2@r.example>');
# S: a signer whose primary user ID is its second one.
my $S = gen_key('Sam Old <sam@old.example>');
g('--quick-add-uid', $S, 'Sam New <sam@new.example>');
my $v1 = "$T/v1.pgp";
spew($v1, g('--export', $P, $Q, $R, $S)->{out});

sleep 1;
g('--quick-set-primary-uid', $P, 'Pat Beta <pat@b.example>');
g('--quick-revoke-uid', $P, 'Pat Alpha <pat@a.example>');
g('--quick-set-primary-uid', $Q, 'Quinn Two <q2@q.example>');
g('--quick-set-primary-uid', $R, 'Rae Two <r2@r.example>');
g('--quick-revoke-uid', $R, 'Rae Two <r2@r.example>');
g('--quick-set-primary-uid', $S, 'Sam New <sam@new.example>');
g('-u', $S, '--quick-sign-key', $P, 'Pat Beta <pat@b.example>');
g('-u', $S, '--quick-sign-key', $Q);

my $keys = "$T/keys.pgp";
spew($keys, g('--export', $P, $Q, $R, $S)->{out});
my $db = "$T/db";
import_keys($db, $v1, $keys);
# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $base = start_nginx(db => $db, conf => 'hkp_serve_policy full;');
my $L = "$base/pks/lookup";
my ($sid) = substr($S, -16);

# the stored order really is the creation order (else nothing is tested)
my @stored = http_get("$L?op=index&options=mr&search=0x$P")->{content} =~ /^uid:([^:]*):/mg;
is($stored[0], 'Pat Alpha <pat@a.example>', 'P is stored with its first (now revoked) user ID first');
@stored = http_get("$L?op=index&options=mr&search=0x$S")->{content} =~ /^uid:([^:]*):/mg;
is($stored[0], 'Sam Old <sam@old.example>', 'S is stored with its first user ID first');

# ------------------------------------------------------------------ ours

my $ip = http_get("$L?op=index&search=0x$P")->{content};
my @ui = index_uids($ip);
is($ui[0], esc('Pat Beta <pat@b.example>'), 'index: the primary user ID heads the key, not the revoked first one');
is_deeply([sort @ui], [sort map { esc($_) } 'Pat Alpha <pat@a.example>', 'Pat Beta <pat@b.example>'],
          'index: every user ID listed once');
my $vp = http_get("$L?op=vindex&search=0x$P")->{content};
is((vindex_uids($vp))[0], esc('Pat Beta <pat@b.example>'), 'vindex: the primary user ID first');
is(vindex_signers($vp)->{$sid}, esc('Sam New <sam@new.example>'), "vindex: the signer named by its primary user ID");
like($vp, qr{^sig <span class="warn">revok</span> <a href="/pks/lookup\?op=get&amp;search=0x${\ substr($P, -16)}">}m,
     'vindex: a revocation stands out');

my @uq = index_uids(http_get("$L?op=index&search=0x$Q")->{content});
is($uq[0], esc('Quinn Two <q2@q.example>'), 'index: primary user ID in the middle heads the key');
is(scalar @uq, 3, '... all three listed');
my $vq = http_get("$L?op=vindex&search=0x$Q")->{content};
is((vindex_uids($vq))[0], esc('Quinn Two <q2@q.example>'), 'vindex: the primary user ID first');
is(vindex_signers($vq)->{$sid}, esc('Sam New <sam@new.example>'), 'vindex: signer of every user ID named once per line');

my @ur = index_uids(http_get("$L?op=index&search=0x$R")->{content});
is($ur[0], esc('Rae One <r1@r.example>'), 'index: a revoked primary user ID does not head the key while another is valid');

my @us = index_uids(http_get("$L?op=index&search=0x$S")->{content});
is($us[0], esc('Sam New <sam@new.example>'), 'index: the signer key itself is headed by its primary user ID');

# the machine-readable index is unchanged: stored order, nothing moved
my $mr = http_get("$L?op=index&options=mr&search=0x$Q")->{content};
my @mu = $mr =~ /^uid:([^:]*):/mg;
is(scalar @mu, 3, 'mr index: three uid lines');
my $vmr = http_get("$L?op=vindex&options=mr&search=0x$Q")->{content};
is($vmr, $mr, 'mr vindex equals mr index');

# hkp_vindex_signer_lookups 0: no signer key is read, none is named
my $b0 = start_nginx(db => $db, conf => 'hkp_vindex_signer_lookups 0; hkp_serve_policy full;');
my $v0 = http_get("$b0/pks/lookup?op=vindex&search=0x$P")->{content};
is_deeply(vindex_signers($v0), {}, 'hkp_vindex_signer_lookups 0: no signer named');
like($v0, qr{search=0x$sid">\Q${\ substr($S, -8)}\E</a> [^\n]* \[\]$}m, '... the signature line shows []');
stop_nginx($b0);

# ------------------------------------------------------------------ SKS

SKIP: {
    skip 'sks not installed', 10 unless SksPeer::available();
    my $sks = SksPeer->start(dir => "$T/sks", keys => [$v1], dontgossip => 1);
    my $SL = $sks->hkp_url . '/pks/lookup';
    my $armored = g('--armor', '--export', $P, $Q, $R, $S)->{out};
    (my $form = $armored) =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
    my $r = http_req('POST', $sks->hkp_url . '/pks/add',
                     { 'Content-Type' => 'application/x-www-form-urlencoded' }, "keytext=$form");
    is($r->{status}, 200, 'SKS merged the final versions');
    for my $c ([$P, 'P'], [$Q, 'Q'], [$S, 'S']) {
        my ($fpr, $n) = @$c;
        my @theirs = index_uids(http_get("$SL?op=index&search=0x$fpr")->{content});
        my @ours = index_uids(http_get("$L?op=index&search=0x$fpr")->{content});
        ok(@theirs > 0, "SKS lists $n");
        is($ours[0], $theirs[0], "$n: the same headline as SKS ($theirs[0])");
    }
    my $sv = http_get("$SL?op=vindex&search=0x$P")->{content};
    is((vindex_uids($vp))[0], (vindex_uids($sv))[0], 'P vindex: the same first user ID as SKS');
    is(vindex_signers($vp)->{$sid}, vindex_signers($sv)->{$sid}, 'P vindex: the signer named as SKS names it');
    my @rs = index_uids(http_get("$SL?op=index&search=0x$R")->{content});
    note "R: SKS heads it with '$rs[0]' (its revoked primary user ID), we with '$ur[0]'";
    ok(scalar @rs, 'SKS lists R');
    $sks->stop;
}

stop_nginx($base);
done_testing();
