#!/usr/bin/perl
# `reconsvc dump` while nginx accepts uploads: the dump is one consistent
# snapshot (checksums pass, every primary key once, its count between the
# store's counts before and after), and importing it into an empty
# database reproduces exactly its set of key hashes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use JSON::PP ();
use POSIX qw(_exit WNOHANG);
use Time::HiRes qw(sleep);
use HkpTest qw(:all);

my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
my $MAINT = '/usr/share/keyrings/debian-maintainers.gpg';
for my $f ($KEYRING, $MAINT) {
    BAIL_OUT("$f missing (apt-get install debian-keyring)") unless -r $f;
}
BAIL_OUT('md5sum missing') unless have_cmd('md5sum');

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $T = tmpdir();
my $db = "$T/db";
my $imp = import_keys($db, $KEYRING, glob("$ROOT/t/data/*.asc"));
note "import: $imp";
# hkp_serve_policy full (an SKS-exact mirror): these answers are the stored
# keys as SKS serves them; t/38-serve-policy.t tests the default clean view
my $base = start_nginx(db => $db, workers => 2, conf => 'hkp_serve_policy full;');
my $JSON = JSON::PP->new;

sub total {
    my $r = http_get('/pks/lookup?op=stats&options=mr');
    return $r->{status} == 200 ? $JSON->decode($r->{content})->{total} : undef;
}

# The first $NMAINT keys of the maintainers keyring, cut into fragments
# ([primary + direct sigs], then [primary + one UID/subkey block] each):
# uploaded one fragment per request, the first makes a new key and the
# rest merge.
my $NMAINT = 80;
my @mkeys = grep { defined key_fpr($_) } split_keys(slurp($MAINT));
splice @mkeys, $NMAINT;
my @uploads;
for my $k (@mkeys) {
    my @head = ($k->[0]);
    my $i = 1;
    push @head, $k->[$i++] while $i < @$k && $k->[$i]{tag} == 2;
    push @uploads, packets_bin([@head]);
    while ($i < @$k) {
        my @b = ($k->[$i++]);
        push @b, $k->[$i++] while $i < @$k && $k->[$i]{tag} == 2;
        push @uploads, packets_bin([$k->[0], @b]);
    }
}
note scalar(@uploads) . " uploads of $NMAINT keys";

# The reference: the same keys, whole, imported offline by reconsvc.
my %want;                      # fpr => hash of the whole key
{
    spew("$T/maint.gpg", join '', map { packets_bin($_) } @mkeys);
    import_keys("$T/db-ref", "$T/maint.gpg");
    my $r = run_cmd([$RECONSVC, 'dump', '--db', "$T/db-ref", "$T/dump-ref"], timeout => 300);
    die "reference dump: $r->{err}" if $r->{rc};
    for my $f (glob("$T/dump-ref/hkp-dump-*.pgp")) {
        $want{ key_fpr($_) } = sks_hash($_) for split_keys(slurp($f));
    }
    die 'reference has ' . scalar(keys %want) . " keys, not $NMAINT" unless keys %want == $NMAINT;
}

# One POST, headers and body in a single write (HTTP::Tiny's two writes
# meet Nagle and delayed ACKs: 40 ms per request); returns the status.
sub post_raw {
    my ($port, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp',
                                  Timeout => 60) or return 0;
    binmode $s;
    my $req = "POST /pks/add HTTP/1.0\r\nContent-Type: application/pgp-keys\r\nContent-Length: "
            . length($body) . "\r\n\r\n" . $body;
    my $off = 0;
    while ($off < length $req) {
        my $w = syswrite($s, $req, length($req) - $off, $off) or return 0;
        $off += $w;
    }
    my $resp = '';
    1 while sysread($s, $resp, 65536, length $resp);
    return $resp =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
}

# ------------------------------------------------------------------ uploads + dump

my $before = total();
my $progress = "$T/progress";
my $pid = fork() // die "fork: $!";
if (!$pid) {
    my ($n, $bad) = (0, 0);
    for my $u (@uploads) {
        $bad++ unless post_raw(port(), $u) == 200;
        $n++;
        spew("$progress.tmp", "$n $bad");
        rename "$progress.tmp", $progress;
    }
    spew("$progress.tmp", "$n $bad done");
    rename "$progress.tmp", $progress;
    _exit(0);
}

sub progress { my $p = slurp($progress) // '0 0'; return split ' ', $p }

sleep 0.01 until (progress())[0] >= 20 || waitpid($pid, WNOHANG) == $pid;
my $start_n = (progress())[0];
my $at_start = total();
my $out = "$T/dump";
my $r = run_cmd([$RECONSVC, 'dump', '--db', $db, '--keys-per-file', 200, $out], timeout => 300);
my @after_dump = progress();
my $at_end = total();
is($r->{rc}, 0, 'reconsvc dump while uploads run') or diag "$r->{out}$r->{err}";
my ($dumped) = $r->{out} =~ /dumped (\d+) keys/;
ok(defined $dumped, 'dump reports its key count') or diag $r->{out};
note $r->{out};
$dumped //= -1;
ok($start_n >= 20 && $after_dump[0] < @uploads && ($after_dump[2] // '') ne 'done',
   "uploads ran before and after the dump (upload $start_n .. $after_dump[0] of " . scalar(@uploads) . ')');
note 'uploads completed while the dump ran: ' . ($after_dump[0] - $start_n);
ok($dumped >= $at_start && $dumped <= $at_end, "dump count $dumped is a count the store had");

waitpid($pid, 0);
my @fin = progress();
is($fin[0], scalar @uploads, 'every upload was made');
is($fin[1], 0, 'every upload answered 200');

# ------------------------------------------------------------------ the dump

{
    # md5sum -c reads the names relative to the current directory
    my $pid2 = fork() // die;
    if (!$pid2) {
        chdir $out or _exit(2);
        open STDOUT, '>', "$T/md5.out"; open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec 'md5sum', '-c', 'metadata-hkp-dump.txt'; }
        _exit(127);
    }
    waitpid($pid2, 0);
    is($? >> 8, 0, 'md5sum -c metadata-hkp-dump.txt passes') or diag slurp("$T/md5.out");
}

my @files = sort glob("$out/hkp-dump-*.pgp");
cmp_ok(scalar @files, '>', 1, scalar(@files) . ' dump files');
my (%dump_hashes, %fprs_seen, $nkeys, $dups);
$nkeys = $dups = 0;
for my $f (@files) {
    for my $k (split_keys(slurp($f))) {
        $nkeys++;
        $dump_hashes{ sks_hash($k) }++;
        my $fpr = key_fpr($k) // sks_hash($k);
        $dups++ if $fprs_seen{$fpr}++;
    }
}
is($nkeys, $dumped, 'the dump files hold as many keys as reported');
is(scalar keys %dump_hashes, $dumped, '... all with distinct hashes');
is($dups, 0, 'every primary key appears once (no half-applied merge)');

# ------------------------------------------------------------------ import into an empty db

my $db2 = "$T/db2";
my $imp2 = import_keys($db2, @files);
like($imp2, qr/read $dumped, new $dumped, merged 0, unchanged 0, rejected 0/, "import of the dump: $dumped new");
my $out2 = "$T/dump2";
$r = run_cmd([$RECONSVC, 'dump', '--db', $db2, $out2], timeout => 300);
like($r->{out}, qr/dumped $dumped keys/, 'the new database holds the same count');
my %h2;
for my $f (glob("$out2/hkp-dump-*.pgp")) {
    $h2{ sks_hash($_) }++ for split_keys(slurp($f));
}
is_deeply([sort keys %h2], [sort keys %dump_hashes], 'its set of hashes equals the dump snapshot');

# ------------------------------------------------------------------ final state

my $final = total();
my $ok = 0;
for my $fpr (sort keys %want) {
    my $g = http_get("/pks/lookup?op=get&options=mr&search=0x$fpr");
    next unless $g->{status} == 200;
    my @k = split_keys(join '', map { $_->[0] } dearmor($g->{content}));
    $ok++ if @k == 1 && sks_hash($k[0]) eq $want{$fpr};
}
is($ok, scalar keys %want, 'after all uploads every maintainer key is stored whole (fragments merged)');
is($final, $before + scalar(keys %want), "count: $before + " . scalar(keys %want));

unlike(nginx_error_log(), qr/\[(alert|crit|emerg)\]/, 'no alerts in the error log');

done_testing;
