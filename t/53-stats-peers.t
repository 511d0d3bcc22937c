#!/usr/bin/perl
# op=stats lists the gossip peers of hkp_membership and, per peer, the last
# reconciliation that reconsvc stored in meta "recon:<host> <port>"
# (the binary record of shared/peer.h), in HTML and in JSON (options=mr).
#   node A: 127.0.0.1, 300 keys, its nginx serves /pks/hashquery, never gossips
#   node B: 127.0.0.5, 1 key, gossips to A; B's nginx has the stats under test
# Before any session both listed peers show "never"/null; after B's session
# with A, B's stats show it (time, outcome, keys fetched); a peer removed
# from the file is no longer shown; hostile meta values (not a valid
# status record) give null, strings in a record are cleaned and escaped,
# never broken JSON.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

plan skip_all => 'mdb_dump/mdb_load not installed'
    unless have_cmd('mdb_dump') && have_cmd('mdb_load');
plan skip_all => 'python3-cryptography missing (bench/synth-keys.py)'
    unless have_synth();

my ($base_f) = fixture_keys();
my $T = tmpdir();
my $dbA = "$T/dbA";
my $dbB = "$T/dbB";
import_keys($dbA, $base_f);
import_keys($dbB, root() . '/t/data/k1-ed25519.asc');
is(scalar(my @h0 = db_hashes($dbB)), 1, 'B starts with 1 key');

my $pA = SksPeer::free_port('127.0.0.1');
my $pB = SksPeer::free_port('127.0.0.5');
my $memb = "$T/membership";

sub write_membership { spew("$memb.tmp", join '', @_); rename "$memb.tmp", $memb or die $! }

# The file as an operator writes it: comments, blanks, junk lines.
write_membership(
    "# gossip peers, SKS format\n",
    "\n",
    "127.0.0.1 $pA   # node A <a\@example.org>\n",
    "keys.example.net\t11370 extra tokens # Jane <jane\@example.net>\n",
    "bad.example.net 0\n",
    "bad.example.net 70000\n",
    "bad.example.net x11370\n",
    "lonely.example.net\n",
);

my $nginxB = start_nginx(db => $dbB, http => "    hkp_membership $memb;\n    hkp_recon_port $pB;\n");

sub stats_json {
    my $r = http_get("$nginxB/pks/lookup?op=stats&options=mr");
    is($r->{status}, 200, 'op=stats&options=mr: 200');
    my $j = eval { JSON::PP->new->utf8->decode($r->{content}) };
    ok($j, 'the JSON parses') or diag("$@\n$r->{content}");
    return $j // {};
}
sub stats_html {
    my $r = http_get("$nginxB/pks/lookup?op=stats");
    is($r->{status}, 200, 'op=stats: 200');
    return $r->{content};
}
sub peers_table {
    my ($html) = @_;
    my ($t) = $html =~ m{<h2>Gossip Peers</h2>\s*<table[^>]*>(.*?)</table>}s;
    return $t // '';
}
sub peer_row {
    my ($html, $name) = @_;
    my ($row) = peers_table($html) =~ m{(<tr><td>\Q$name\E</td>.*?</tr>)};
    return $row;
}

# ---- before any reconciliation
{
    my $html = stats_html();
    my @names = peers_table($html) =~ m{<tr><td>([^<]*)</td>}g;
    is_deeply(\@names, ["127.0.0.1 $pA", 'keys.example.net 11370'],
              'HTML: the two membership entries, in file order, as "host port"');
    like(peer_row($html, "127.0.0.1 $pA"), qr{<td>never</td>}, 'HTML: no reconciliation yet');
    like($html, qr{<tr><td>Recon port:</td><td>$pB</td></tr>}, 'HTML Settings: recon port');
    like($html, qr{Total number of keys: 1</p>}, 'HTML: key count');

    my $j = stats_json();
    is_deeply($j->{peers}, [
        { name => "127.0.0.1 $pA", reconAddr => "127.0.0.1:$pA", lastRecon => undef },
        { name => 'keys.example.net 11370', reconAddr => 'keys.example.net:11370', lastRecon => undef },
    ], 'JSON: both peers, lastRecon null');
    is($j->{total}, 1, 'JSON: total');
    is($j->{reconAddr}, ":$pB", 'JSON: reconAddr');
    ok(exists $j->{$_}, "JSON keeps \"$_\"") for qw(now version hostname nodename contact httpAddr
                                                     queryConfig software pksTargets hourly daily);
}

# ---- a real session: B (initiator) fetches A's 300 keys (A's fetch of B's
# one key fails: B's nginx listens on 127.0.0.1 only; not under test here)
my $nginxA = start_nginx(db => $dbA);
my $A = start_recon(db => $dbA, http_port => port($nginxA), port => $pA,
    peers => ["127.0.0.5 $pB"], gossip => 100000);
my $t0 = time;
my $B = start_recon(db => $dbB, http_port => port($nginxB), addr => '127.0.0.5', port => $pB,
    peers => ["127.0.0.1 $pA"], gossip => 3);
my $re = qr/session peer=127\.0\.0\.1:$pA \(127\.0\.0\.1 $pA\) role=initiator we_miss=(\d+) they_miss=(\d+) fetched=(\d+)[^\n]* duration=([\d.]+)s outcome=(\S[^\n]*)/;
my $done = wait_for(40, sub { $B->log =~ $re });
ok($done, 'B completed a session with A') or diag("B log:\n" . $B->log . "\nA log:\n" . $A->log);
is($B->stop, 0, 'B stopped');
my $t1 = time;
my @s = $B->log =~ /$re/g;
my ($we_miss, $they_miss, $fetched, $dur, $outcome) = @s[-5 .. -1];   # the last session
is(scalar(my @h1 = db_hashes($dbB)), 301, 'B holds 301 keys');
like($B->log, qr/role=initiator we_miss=300 they_miss=\d+ fetched=300 [^\n]*outcome=ok/,
     'B fetched the 300 keys it lacked');

{
    my $j = stats_json();
    my ($p) = grep { $_->{name} eq "127.0.0.1 $pA" } @{ $j->{peers} };
    my $l = $p->{lastRecon};
    ok(ref $l eq 'HASH', 'JSON: lastRecon of A is an object') or diag(explain($p));
    $l ||= {};
    is($l->{role}, 'initiator', 'JSON: role');
    is($l->{outcome}, $outcome, "JSON: outcome ($outcome)");
    is($l->{we_miss}, $we_miss, "JSON: we_miss ($we_miss)");
    is($l->{they_miss}, $they_miss, "JSON: they_miss ($they_miss)");
    is($l->{fetched}, $fetched, "JSON: fetched ($fetched)");
    ok(abs($l->{duration} - $dur) < 0.011, "JSON: duration ($l->{duration})");
    my ($y, $mo, $d, $h, $mi, $sec) = ($l->{time} // '') =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z$/;
    ok(defined $y, "JSON: time is ISO 8601 UTC ($l->{time})");
    require Time::Local;
    my $ut = defined $y ? Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) : 0;
    ok($ut >= int($t0) && $ut <= $t1 + 1, 'JSON: time is the session\'s');
    is($j->{total}, 301, 'JSON: total is live');
    my ($q) = grep { $_->{name} eq 'keys.example.net 11370' } @{ $j->{peers} };
    is($q->{lastRecon}, undef, 'JSON: the other peer still has none');

    my $html = stats_html();
    my $row = peer_row($html, "127.0.0.1 $pA") // '';
    like($row, qr{^<tr><td>127\.0\.0\.1 $pA</td><td>\Q$l->{time}\E</td><td>initiator</td><td>\Q$outcome\E</td><td>$fetched</td><td>$we_miss</td><td>$they_miss</td><td>[\d.]+</td></tr>$},
         'HTML: time, role, outcome, fetched, missing here/there, duration') or diag($row);
    like(peer_row($html, 'keys.example.net 11370'), qr{<td>never</td>}, 'HTML: the other peer: never');
    like($html, qr{Total number of keys: 301</p>}, 'HTML: key count is live');
}
is($A->stop, 0, 'A stopped');

# ---- a peer removed from the file is not shown (its meta entry stays)
write_membership("keys.example.net 11370\n");
{
    my $html = stats_html();
    unlike($html, qr{127\.0\.0\.1 $pA}, 'HTML: removed peer gone');
    my $j = stats_json();
    is_deeply([map { $_->{name} } @{ $j->{peers} }], ['keys.example.net 11370'], 'JSON: removed peer gone');
}

# ---- hostile meta values (written with mdb_load) and odd membership lines
# A status record (shared/peer.h): "HKPS", version, role length, flags
# (1 role, 2 we_miss, 4 they_miss, 8 fetched, 16 duration), time, we_miss,
# they_miss, fetched, duration (us), outcome length, profile length, 0,
# role[16], profile[16], outcome[256].
sub peer_rec {
    my (%f) = @_;
    my ($role, $out) = ($f{role} // '', $f{outcome} // '');
    return ($f{magic} // 'HKPS')
        . pack('CCn', $f{version} // 1, $f{role_len} // length($role), $f{flags} // 0x1f)
        . pack('Q>5', $f{time} // 1700000000, 0, 0, $f{fetched} // 0, $f{duration_us} // 0)
        . pack('nCC', $f{outcome_len} // length($out), length($f{profile} // ''), 0)
        . pack('a16', $role) . pack('a16', $f{profile} // '') . pack('a256', $out);
}
my %bad = (
    'trunc.example 1'  => substr(peer_rec(outcome => 'ok'), 0, -1),     # one byte short
    'nested.example 2' => peer_rec(outcome => 'ok', version => 2),      # a later version
    'type.example 3'   => peer_rec(outcome => 'ok', magic => 'HKPX'),   # not our magic
    'neg.example 4'    => peer_rec(outcome => 'ok', role_len => 17),    # role over its field
    'bytes.example 5'  => "\xff\xfe<script>\0",
    'trail.example 6'  => peer_rec(outcome => 'ok') . ' x',
    'notime.example 7' => peer_rec(outcome => 'ok', outcome_len => 257), # outcome over its field
    'array.example 8'  => peer_rec(outcome => 'ok', flags => 0x20),     # an unknown flag
    'xss.example 9'    => peer_rec(role => '</td><b>', flags => 0x19, fetched => 5, duration_us => 500000,
                                   outcome => "<script>alert(\"x\")</script> & \x01\xff caf\xc3\xa9 \xff"),
    'huge.example 10'  => peer_rec(outcome => 'ok') . ('A' x 2000),
    'bigtime.example 11' => peer_rec(outcome => 'ok', time => 253402300800),
    'json.example 12'  => '{"time":1700000000,"outcome":"ok"}',           # the old text form
    'pad.example 13'   => peer_rec(outcome => 'ok') =~ s/\0\z/x/r,          # a pad byte set
);
{
    my $in = "VERSION=3\nformat=bytevalue\ntype=btree\nHEADER=END\n";
    for my $k (sort keys %bad) {
        $in .= ' ' . unpack('H*', "recon:$k") . "\n " . unpack('H*', $bad{$k}) . "\n";
    }
    $in .= "DATA=END\n";
    my $r = run_cmd(['mdb_load', '-s', 'meta', $dbB], stdin => $in);
    is($r->{rc}, 0, 'mdb_load wrote the hostile values') or diag($r->{err});
}
write_membership(
    (map { "$_\n" } sort keys %bad),
    "::1 11370\n",
    "h\xc3\xa9\xff<x> 12\n",
);
{
    my $j = stats_json();
    my %p = map { $_->{name} => $_ } @{ $j->{peers} };
    is(scalar @{ $j->{peers} }, scalar(keys %bad) + 2, 'JSON: every entry listed');
    for my $k (grep { $_ ne 'xss.example 9' } sort keys %bad) {
        ok(exists $p{$k} && !defined $p{$k}{lastRecon}, "JSON: $k: lastRecon null");
    }
    my $x = $p{'xss.example 9'}{lastRecon} || {};
    is($x->{role}, '</td><b>', 'JSON: a string with markup is kept as text');
    is($x->{outcome}, "<script>alert(\"x\")</script> & ?? caf\x{e9} ?", 'JSON: escapes decoded, bad ones replaced');
    is($x->{fetched}, 5, 'JSON: fetched');
    is($x->{we_miss}, undef, 'JSON: absent field null');
    is($p{'::1 11370'}{reconAddr}, '[::1]:11370', 'JSON: IPv6 reconAddr in brackets');
    ok(exists $p{"h\x{e9}?<x> 12"}, 'JSON: non-UTF-8 host bytes replaced');

    my $html = stats_html();
    unlike($html, qr{<script>|<b>|<x>}, 'HTML: nothing from meta or the file is markup');
    like(peer_row($html, 'xss.example 9') // '',
         qr{<td>&lt;/td&gt;&lt;b&gt;</td><td>&lt;script&gt;alert\(&quot;x&quot;\)&lt;/script&gt; &amp; \?\? caf\xc3\xa9 \?</td>},
         'HTML: role and outcome escaped');
    like(peer_row($html, 'trunc.example 1') // '', qr{<td>never</td>}, 'HTML: malformed value: never');
}

# ---- a file over the caps (64 KiB, 1000 peers): its start is shown
write_membership(map { sprintf "peer%04d.example.net 11370 # %s\n", $_, 'x' x 20 } 1 .. 1500);
{
    my $j = stats_json();
    my @n = map { $_->{name} } @{ $j->{peers} };
    is(scalar @n, 1000, 'JSON: at most 1000 peers');
    is($n[-1], 'peer1000.example.net 11370', 'JSON: the first 1000 of the file');
    like(nginx_error_log($nginxB), qr/\[warn\].*larger than 65536 bytes/, 'the cut is logged');
}

# ---- no membership file: an empty list, no error
unlink $memb;
{
    my $j = stats_json();
    is_deeply($j->{peers}, [], 'JSON: missing file -> no peers');
    my $html = stats_html();
    is(peers_table($html), "\n", 'HTML: missing file -> empty table');
}
unlike(join('', grep { !/hkptest-ping/ } split /^/, nginx_error_log($nginxB)),
       qr/\[(?:error|crit|alert|emerg)\]/, 'no errors logged by B\'s nginx');

done_testing();
