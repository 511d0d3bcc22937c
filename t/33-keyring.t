#!/usr/bin/perl
# The whole Debian keyring (905 keys): import it, then fetch EVERY key by
# fingerprint, long key ID and SKS hash, and list it with op=index. Each
# answer must be that key, with exactly the packets of the keyring (SKS
# returns them unchanged for all 905 keys; verified against SKS 1.1.6), and
# the SKS hash computed here must find it with op=hget.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
BAIL_OUT("$KEYRING missing (apt-get install debian-keyring)") unless -r $KEYRING;

my @keys = map { { packets => $_, fpr => key_fpr($_), hash => sks_hash($_) } }
           split_keys(slurp($KEYRING));
my $N = @keys;
cmp_ok($N, '>=', 900, "keyring holds $N keys");
is(scalar(grep { !defined $_->{fpr} } @keys), 0, 'all keyring keys are v4');
my %uniq_fpr = map { $_->{fpr} => 1 } @keys;
my %uniq_lid = map { substr($_->{fpr}, -16) => 1 } @keys;
is(scalar keys %uniq_fpr, $N, 'fingerprints are unique');
my $lid_unique = (keys %uniq_lid) == $N;

my $tmp = tmpdir();
my $db = "$tmp/db";
my $summary = import_keys($db, $KEYRING);
like($summary, qr/\bnew $N\b/, "reconsvc import: new $N") or diag $summary;
like($summary, qr/\brejected 0\b/, 'reconsvc import: rejected 0') or diag $summary;
if (have_cmd('mdb_stat')) {
    my $r = run_cmd(['mdb_stat', '-s', 'keys', $db], timeout => 30);
    my ($n) = $r->{out} =~ /Entries:\s*(\d+)/;
    is($n, $N, "LMDB 'keys' holds $N entries") or diag "$r->{out}$r->{err}";
}

# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
start_nginx(db => $db, conf => 'hkp_serve_policy full;');

# Fetch one key and compare it with the keyring's copy. Returns an error string or ''.
sub check_key_reply {
    my ($k, $r, $check_crc) = @_;
    return "status $r->{status}: " . substr($r->{content}, 0, 200) if $r->{status} != 200;
    my @blocks = eval { dearmor($r->{content}, check_crc => $check_crc) };
    return 'no armor block' unless @blocks;
    return scalar(@blocks) . ' armor blocks' if @blocks != 1;
    return 'bad CRC-24' if $check_crc && defined $blocks[0][1] && !$blocks[0][1];
    my @got = eval { split_keys($blocks[0][0]) };
    return "unparseable packets: $@" if $@;
    return scalar(@got) . ' keys in the reply' if @got != 1;
    my $fpr = key_fpr($got[0]) // 'none';
    return "primary fingerprint $fpr" if $fpr ne $k->{fpr};
    my $h = sks_hash($got[0]);
    return "packets differ from the keyring (" . scalar(@{ $got[0] }) . " vs "
         . scalar(@{ $k->{packets} }) . " packets, hash $h vs $k->{hash})" if $h ne $k->{hash};
    return '';
}

sub report {
    my ($name, $bad) = @_;
    is(scalar @$bad, 0, "$name: all $N keys") or diag join "\n",
        (map { "  $_->[0]: $_->[1]" } @$bad[0 .. ($#$bad < 9 ? $#$bad : 9)]),
        (@$bad > 10 ? '  ... ' . (@$bad - 10) . ' more' : ());
}

my (@bad_get, @bad_lid, @bad_index, @bad_hget);
my $i = 0;
for my $k (@keys) {
    my $f = $k->{fpr};
    my $crc = $i++ % 10 == 0;     # the pure-Perl CRC is slow; check every 10th

    my $r = http_get("/pks/lookup?op=get&options=mr&search=0x$f");
    my $e = check_key_reply($k, $r, $crc);
    push @bad_get, [$f, $e] if $e;

    if ($lid_unique) {
        my $lid = substr($f, -16);
        $r = http_get("/pks/lookup?op=get&options=mr&search=0x$lid");
        $e = check_key_reply($k, $r, 0);
        push @bad_lid, [$lid, $e] if $e;
    }

    $r = http_get("/pks/lookup?op=index&options=mr&search=0x$f");
    if ($r->{status} != 200) {
        push @bad_index, [$f, "status $r->{status}"];
    } elsif ($r->{content} !~ /\Ainfo:1:1\r?\n/) {
        push @bad_index, [$f, 'no info:1:1 first line: ' . substr($r->{content}, 0, 80)];
    } elsif ($r->{content} !~ /^pub:$f:/mi) {
        push @bad_index, [$f, 'no pub: line with the fingerprint'];
    }

    $r = http_get("/pks/lookup?op=hget&options=mr&search=$k->{hash}");
    $e = check_key_reply($k, $r, 0);
    push @bad_hget, [$k->{hash}, $e] if $e;
}
report('op=get by fingerprint returns exactly the key', \@bad_get);
SKIP: {
    skip 'long key IDs collide in this keyring', 1 unless $lid_unique;
    report('op=get by long key ID returns exactly the key', \@bad_lid);
}
report('op=index by fingerprint lists the key', \@bad_index);
report('op=hget by the SKS hash returns exactly the key', \@bad_hget);

# Lower-case hash and fingerprint work too (hex is case-insensitive).
{
    my $k = $keys[0];
    my $r = http_get('/pks/lookup?op=hget&options=mr&search=' . lc $k->{hash});
    is(check_key_reply($k, $r, 1), '', 'op=hget with a lower-case hash');
    $r = http_get('/pks/lookup?op=get&options=mr&search=0x' . lc $k->{fpr});
    is(check_key_reply($k, $r, 1), '', 'op=get with a lower-case fingerprint');
}

my $log = nginx_error_log();
unlike($log, qr/exited on signal|\[alert\]|\[emerg\]|\[crit\]/, 'no crash/alert in error.log')
    or diag join "\n", grep { /signal|\[alert\]|\[emerg\]|\[crit\]/ } split /\n/, $log;

done_testing();
