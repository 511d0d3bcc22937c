#!/usr/bin/perl
# Recon against a real SKS 1.1.6 (Debian's sks): our node = nginx with the
# module (serving /pks/hashquery) + `reconsvc run` on 127.0.0.1; SKS on
# 127.0.0.2 (SKS tells peers apart by IP). Each side lists the other in
# its membership; both gossip every few seconds.
#   (a) we miss 1, 50, 5000 keys SKS has  -> our hash set = SKS's
#   (b) SKS misses 50 keys we have         -> SKS fetches them from nginx
#   (c) disjoint halves                    -> both end with the union
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'sks not installed' unless SksPeer::available();
plan skip_all => 'mdb_dump not installed' unless have_cmd('mdb_dump');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

my ($base_f, $extra_f) = fixture_keys();
my @base = SksPeer::split_keyring(slurp($base_f));
my @extra = SksPeer::split_keyring(slurp($extra_f));
is(scalar @base, 300, '300 base keys');
is(scalar @extra, 5000, '5000 extra keys');
my $T = tmpdir();

# Hash sets through our own import (its canonical form = SKS's, t/10).
my %hashes_of;
sub hashes_of_keys {
    my ($name, @keys) = @_;
    return @{ $hashes_of{$name} } if $hashes_of{$name};
    my $db = "$T/hash-$name";
    import_keys($db, write_keys("$T/$name.pgp", @keys));
    $hashes_of{$name} = [db_hashes($db)];
    return @{ $hashes_of{$name} };
}

my $our_recon = SksPeer::free_port('127.0.0.1');

# Runs our node (nginx + reconsvc) over a fresh db of @ours against $sks
# until our hashes equal @want; returns (ok, seconds, log).
sub converge_ours {
    my ($sks, $ours, $want, $name) = @_;
    my $db = "$T/db-$name";
    import_keys($db, write_keys("$T/ours-$name.pgp", @$ours));
    my $base = start_nginx(db => $db);
    my $node = start_recon(db => $db, http_port => port(), port => $our_recon,
                           peers => ['127.0.0.2 ' . $sks->recon_port], gossip => 2);
    my $t0 = time;
    my $want_s = join ',', @$want;
    my $ok = wait_for(90, sub { join(',', db_hashes($db)) eq $want_s });
    my $dt = time - $t0;
    my $log = $node->log;
    is($node->stop, 0, "$name: reconsvc stopped cleanly on TERM");
    stop_nginx($base);
    return ($ok, $dt, $log, $db);
}

# ------------------------------------------------------------------ (a)
{
    my $sks = SksPeer->start(dir => "$T/sks-a", keys => [$base_f, $extra_f],
                             peers => ["127.0.0.1:$our_recon"], gossip => 0.1);
    my @all = hashes_of_keys('all', @base, @extra);
    is(scalar @all, 5300, 'SKS set: 5300 hashes');
    for my $case ([1, 'miss1'], [50, 'miss50'], [5000, 'miss5000']) {
        my ($n, $name) = @$case;
        my @ours = (@base, @extra[0 .. 4999 - $n]);
        my ($ok, $dt, $log, $db) = converge_ours($sks, \@ours, \@all, $name);
        ok($ok, sprintf('(a) we miss %d: converged to SKS\'s 5300 hashes in %.1f s', $n, $dt))
            or diag("log:\n$log\nwe have " . scalar(db_hashes($db)));
        like($log, qr/session peer=127\.0\.0\.2:\d+ \(127\.0\.0\.2 \d+\) role=\w+ we_miss=\d+ they_miss=\d+ fetched=[1-9]\d* duration=[\d.]+s outcome=ok/,
             "(a) we miss $n: a session logged keys fetched, outcome ok");
        unlike($log, qr/cut off/, "(a) we miss $n: no session cut off");
        my ($fetched) = 0;
        $fetched += $1 while $log =~ /fetched=(\d+)/g;
        cmp_ok($fetched, '>=', $n, "(a) we miss $n: fetched at least $n keys in all");
        if ($name eq 'miss50') {
            # per-peer status record in meta (shared/peer.h: "HKPS", version
            # 2, ..., role, profile, outcome; mdb_dump -p shows other bytes
            # as \XX)
            my $r = run_cmd(['mdb_dump', '-p', '-s', 'meta', $db]);
            like($r->{out}, qr/recon:127\.0\.0\.2 \d+\n HKPS\\02[^\n]*?(?:initiator|acceptor)(?:\\00)+sks(?:\\00)+ok\\00/,
                 '(a) per-peer status in meta');
        }
    }
    my $slog = $sks->recon_log;
    unlike($slog, qr/unauthorized host/, 'SKS accepted our connections (membership by IP)');
    $sks->stop;
}

# ------------------------------------------------------------------ (b), (c)
# One run each: SKS lacks keys we have / each side has half.
for my $case (['b', [@base, @extra[0 .. 4949]], [@base, @extra], 'SKS misses 50 keys we have'],
              ['c', [@extra[0 .. 2499]], [@extra[2500 .. 4999]], 'disjoint halves']) {
    my ($name, $sks_keys, $ours, $what) = @$case;
    my @union = hashes_of_keys("union-$name", @$sks_keys, @$ours);
    my $sks = SksPeer->start(dir => "$T/sks-$name",
                             keys => [write_keys("$T/sks-$name.pgp", @$sks_keys)],
                             peers => ["127.0.0.1:$our_recon"], gossip => 0.1);
    my $db = "$T/db-$name";
    import_keys($db, write_keys("$T/ours-$name.pgp", @$ours));
    my $nginx = start_nginx(db => $db);
    my $node = start_recon(db => $db, http_port => port(), port => $our_recon,
                           peers => ['127.0.0.2 ' . $sks->recon_port], gossip => 2);
    my $t0 = time;
    my $want_s = join ',', @union;
    my $ours_ok = wait_for(90, sub { join(',', db_hashes($db)) eq $want_s });
    ok($ours_ok, sprintf("($name) $what: we have the union (%d) after %.1f s", scalar @union, time - $t0))
        or diag($node->log);
    my $n = wait_for(90, sub { my $c = $sks->count; defined $c && $c == @union ? $c : 0 });
    ok($n, sprintf("($name) $what: SKS has the union (%d) after %.1f s", scalar @union, time - $t0))
        or diag('SKS count ' . ($sks->count // 'undef') . "\n" . substr($sks->recon_log, -3000));
    # spot checks: a few hashes that only we had are now served by SKS
    my %sks_had = map { $_ => 1 } hashes_of_keys("sks-$name", @$sks_keys);
    my @ours_only = grep { !$sks_had{$_} } @union;
    my @sample = @ours_only[0, int(@ours_only / 2), -1];
    is(scalar(grep { $sks->hget($_) == 200 } @sample), 3, "($name) SKS serves hget for our keys");
    is($node->stop, 0, "($name) reconsvc stopped cleanly");
    stop_nginx($nginx);
    $sks->stop;
}

done_testing();
