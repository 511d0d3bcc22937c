#!/usr/bin/perl
# The LMDB map of a running nginx worker (issue 13 D5, issue 7).
#
# D5: another process (reconsvc import) grows the database past the
# worker's map while nginx runs; the next upload, before any lookup in
# that worker, is stored at once (it used to answer 503 MDB_MAP_RESIZED
# until a lookup adopted the size). Lookups after it see the new keys.
# MDB_MAP_FULL: a worker whose map (hkp_db_mapsize 1m) is too small for an
# upload grows it by a bounded step and stores the upload (it used to
# answer 500 MDB_MAP_FULL).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $T = tmpdir();
my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
BAIL_OUT("$KEYRING missing (./build.sh test installs debian-keyring)") unless -s $KEYRING;
my $JSON = JSON::PP->new;

sub bin_of {
    my ($name) = @_;
    my @b = dearmor(slurp("$DATA/$name") // die "no $name", check_crc => 0);
    return $b[0][0];
}
my %bin = map { $_ => bin_of("$_-ed25519.asc") } qw(k1 k3 k4 k5);
my %fpr = map { $_ => key_fpr(parse_packets($bin{$_})) } keys %bin;

sub post {
    my ($body) = @_;
    return http_req('POST', '/pks/add?options=mr',
                    { 'Content-Type' => 'application/pgp-keys' }, $body);
}
sub found {
    my ($fpr) = @_;
    return http_get("/pks/lookup?op=get&options=mr&search=0x$fpr")->{status};
}

# the keyring's keys, in order, as binary blobs
my @ring = split_keys(slurp($KEYRING));
ok(@ring > 500, scalar(@ring) . ' keys in the Debian keyring');

# ------------------------------------------------------------------ D5

{
    my $db = "$T/db";
    import_keys($db, "$DATA/k1-ed25519.asc");
    ok(-s "$db/data.mdb" < 1024 * 1024, 'the db starts under 1 MiB');
    my $base = start_nginx(db => $db, http => 'hkp_db_mapsize 1m;');
    my $r = post($bin{k3});
    is($r->{status}, 200, 'upload with the 1 MiB map: 200') or diag $r->{content};

    # import grows the database far past the worker's 1 MiB map
    my $out = import_keys($db, $KEYRING);
    like($out, qr/^read \d+, new [1-9]\d*/m, 'import while nginx runs') or diag $out;
    ok(-s "$db/data.mdb" > 4 * 1024 * 1024, 'the db is now over 4 MiB');

    # the very next request in that worker is an upload
    $r = post($bin{k4});
    is($r->{status}, 200, 'the next upload is stored at once (no 503 MDB_MAP_RESIZED)')
        or diag "$r->{status} $r->{content}";
    my $j = eval { $JSON->decode($r->{content}) } // {};
    is(scalar @{ $j->{inserted} // [] }, 1, '... k4 inserted');
    is(found($fpr{k4}), 200, 'k4 found');
    is(found(key_fpr($ring[0])), 200, 'a key from the import found');
    is(found($fpr{k1}), 200, 'k1 found');
    unlike(nginx_error_log($base), qr/MDB_MAP_RESIZED.*\[error\]|\[(error|alert|crit)\].*MAP_/,
           'no map error logged');
    stop_nginx($base);
}

# ------------------------------------------------------------------ MAP_FULL

{
    my $db = "$T/db-full";
    import_keys($db, "$DATA/k1-ed25519.asc");
    my $base = start_nginx(db => $db, http => 'hkp_db_mapsize 1m;');
    # about 6 MB of keys in one upload: far more than the 1 MiB map holds
    my ($body, $n) = ('', 0);
    for my $k (@ring) {
        last if length($body) + length(packets_bin($k)) > 6 * 1024 * 1024;
        $body .= packets_bin($k);
        $n++;
    }
    my $r = post($body);
    is($r->{status}, 200, "an upload of $n keys larger than the map: 200")
        or diag "$r->{status} " . substr($r->{content}, 0, 300);
    my $j = eval { $JSON->decode($r->{content}) } // {};
    my $stored = @{ $j->{inserted} // [] } + @{ $j->{updated} // [] } + @{ $j->{unchanged} // [] };
    cmp_ok($stored, '>=', $n - 20, "... its keys stored ($stored of $n; a few may be refused on their own)");
    is(found(key_fpr($ring[$n - 1])), 200, 'the last key of the upload found');
    ok(-s "$db/data.mdb" > 2 * 1024 * 1024, 'the db grew past the configured map');
    $r = post($bin{k5});
    is($r->{status}, 200, 'a further upload: 200');
    stop_nginx($base);
}

done_testing;
