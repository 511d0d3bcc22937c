#!/usr/bin/perl
# Takedowns that stay down (issue 10 item 3): reconsvc block / unblock /
# blocked, blocklist files, the 410/404 answer (v1, and every v2 and VKS
# lookup by fingerprint, key ID, e-mail address or identity), re-blocking
# (the first record is kept; --update-reason), the one audit file,
# refusals by /pks/add and import, `reconsvc check`, restarts; and against
# a real SKS peer that keeps the key: it is fetched at most once and never
# comes back, until unblocked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use HkpTest qw(:all);
use SksPeer;
use ReconTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data";
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $T = tmpdir();
my $JSON = JSON::PP->new;

sub recon { run_cmd([$RECONSVC, @_]) }
sub get { http_get("/pks/lookup?$_[0]") }

sub urlenc { my ($s) = @_; $s =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge; $s }
sub add {
    my ($armor, $mr) = @_;
    return http_req('POST', '/pks/add' . ($mr ? '?options=mr' : ''),
                    { 'Content-Type' => 'application/x-www-form-urlencoded' },
                    'keytext=' . urlenc($armor));
}

# fingerprints of t/data keys (primary, subkey)
my %K1 = (file => "$DATA/k1-ed25519.asc", fpr => '8236DAA56DF885E6A77B041A20E8C38A2AE840BF',
          sub => 'BB3556C600B38C1AA671B6598B7D547986907D72', word => 'k1');
my %K2 = (file => "$DATA/k2-rsa2048.asc", fpr => '451C1DD6CD209EC53A2D96BE0A7541B2E71AFA2E');
my %K3 = (file => "$DATA/k3-ed25519.asc", fpr => 'F24511A38E1F7ADFD95D3952EA498F20AD79F7AC');
my %K4 = (file => "$DATA/k4-ed25519.asc", fpr => 'B4C5A495B4BFFC9CAA8731DD8F795EA356300AE6',
          sub => 'A2C13E5C5E85048341CF8550F2695675F1C6E5BB');

my $db = "$T/db";
import_keys($db, map { $_->{file} } \%K1, \%K2, \%K3, \%K4);
my @hashes0 = db_hashes($db);
is(scalar @hashes0, 4, 'four keys stored');

# the stored hash of k1 (op=hget takes it)
my $k1_hash;
{
    my $d = "$T/k1only";
    import_keys($d, $K1{file});
    ($k1_hash) = db_hashes($d);
}

# the v2 and VKS lookups of a blocked key (fingerprints: primary, subkey)
my $V2LOCS = 'location /pks/v2/ { hkp_v2; } location /vks/v1/ { hkp_vks; }';
sub v2_urls {
    my ($k, $email) = @_;
    my $kid = substr($k->{fpr}, -16);
    return (["/pks/v2/certs/by-vfingerprint/04$k->{fpr}", 'v2 certs by-vfingerprint'],
            ["/pks/v2/certs/by-vfingerprint/4/\L$k->{fpr}", 'v2 certs by-vfingerprint 4/, lower case'],
            ["/pks/v2/certs/by-keyid/$kid", 'v2 certs by-keyid'],
            ["/pks/v2/certs/by-identity/$email", 'v2 certs by-identity (address)'],
            ["/pks/v2/index/$k->{fpr}", 'v2 index by fingerprint'],
            ["/pks/v2/index/06" . ('0' x 64), undef],
            ["/pks/v2/index/$email", 'v2 index by address'],
            ["/vks/v1/by-fingerprint/$k->{fpr}", 'VKS by-fingerprint'],
            ["/vks/v1/by-keyid/$kid", 'VKS by-keyid'],
            ["/vks/v1/by-email/$email", 'VKS by-email'],
            ["/vks/v1/by-email/" . urlenc($email), 'VKS by-email, %-encoded'],
            ($k->{sub} ? (["/pks/v2/certs/by-vfingerprint/04$k->{sub}", 'v2 certs by a subkey fingerprint'],
                          ["/vks/v1/by-fingerprint/$k->{sub}", 'VKS by a subkey fingerprint'],
                          ["/vks/v1/by-keyid/" . substr($k->{sub}, -16), 'VKS by a subkey key ID'])
                       : ()));
}

start_nginx(db => $db, conf => $V2LOCS);
is(get("op=get&search=0x$K1{fpr}")->{status}, 200, 'k1 is served before the block');
for my $u (v2_urls(\%K1, 'vector1@example.invalid')) {
    next unless $u->[1];
    is(http_get($u->[0])->{status}, 200, "$u->[1]: 200 before the block");
}
is(get("op=index&search=vector1\@example.invalid")->{status}, 200, 'k1 is found by its e-mail address');

# ------------------------------------------------------------------ block
my $r = recon('block', '--db', $db, '--reason', 'court order 12 | ticket 42 (private)', $K1{fpr});
is($r->{rc}, 0, 'reconsvc block exits 0') or diag($r->{err});
like($r->{out}, qr/deleted key $K1{fpr}/, '... names the key it deleted');
like($r->{out}, qr/blocked 1 fingerprint, 1 key deleted/, '... and says what it did');
like($r->{err}, qr/^\S+Z block $K1{fpr} by "[^"]+ \(uid \d+\)" deleted=1 reason="court order 12" note="ticket 42 \(private\)"$/m,
     'one audit line on stderr: who, when, fingerprint, reason');
my $audit = slurp("$db/audit.log") // '';
is(scalar(() = $audit =~ /^\S+Z block $K1{fpr} by "[^"]+ \(uid \d+\)" deleted=1 reason="court order 12"/mg), 1,
   'the same line in the audit file next to the database');
ok(!(grep { $_ eq $k1_hash } db_hashes($db)), 'k1 is no longer stored');

for my $q (["op=get&search=0x$K1{fpr}", 'op=get by fingerprint'],
           ["op=get&search=$K1{fpr}", 'op=get by bare fingerprint'],
           ["op=get&search=0x" . substr($K1{fpr}, -16), 'op=get by 64-bit key ID'],
           ["op=index&search=0x" . substr($K1{fpr}, -8), 'op=index by 32-bit key ID'],
           ["op=vindex&search=0x$K1{sub}", 'op=vindex by subkey fingerprint'],
           ["op=get&search=0x" . substr($K1{sub}, -16), 'op=get by subkey key ID'],
           ["op=hget&search=$k1_hash", 'op=hget by its hash'])
{
    my $g = get($q->[0]);
    is($g->{status}, 410, "$q->[1]: 410 Gone");
    is($g->{content}, "Key blocked by the operator: court order 12\n", '... with the public reason only');
}
is(get("op=index&search=vector1\@example.invalid")->{status}, 404, 'a text search just does not find it');
for my $op ('get', 'index') {
    my $g = get("op=$op&search=vector1\@example.invalid&exact=on");
    is($g->{status}, 410, "op=$op of its address with exact=on: 410 Gone");
    is($g->{content}, "Key blocked by the operator: court order 12\n", '... with the public reason only');
}
is(get("op=get&search=nobody\@example.invalid&exact=on")->{status}, 404, 'exact=on of another address: 404');

for my $u (v2_urls(\%K1, 'vector1@example.invalid')) {
    my $g = http_get($u->[0]);
    if (!$u->[1]) {
        is($g->{status}, 404, 'a v2 lookup of a fingerprint nothing has: still 404');
        next;
    }
    is($g->{status}, 410, "$u->[1]: 410 Gone");
    is($g->{content}, "Key blocked by the operator: court order 12\n", '... with the public reason only');
}
{
    my $g = http_get('/pks/v2/certs/by-identity/' . urlenc('Recon Vector One <vector1@example.invalid>'));
    is($g->{status}, 410, 'v2 by-identity with the whole user ID: 410 (its address)');
    is(http_get('/vks/v1/by-email/nobody@example.invalid')->{status}, 404, 'VKS by-email of another address: 404');
}

# re-blocking keeps the first record; --update-reason replaces the reason
{
    my $first = recon('blocked', '--db', $db)->{out};
    my ($since) = $first =~ /^# (\S+) by [^\n]*\n$K1{fpr} /m;
    $r = recon('block', '--db', $db, '--reason', 'another reason', $K1{fpr});
    is($r->{rc}, 0, 'blocking it again: exit 0') or diag($r->{err});
    like($r->{err}, qr/$K1{fpr} is already blocked since \Q$since\E by .* \(reason "court order 12"\); left as it is/,
         '... says it is blocked already, since when, and that nothing changes');
    like($r->{out}, qr/^blocked 0 fingerprints, 0 keys deleted, 1 already blocked \(left as they were\)$/m, '... counts it');
    like($r->{err}, qr/^\S+Z reblock $K1{fpr} by "[^"]+" deleted=0 reason="court order 12" note="ticket 42 \(private\)" since="\Q$since\E"$/m,
         '... and the audit line records it (with the reason in force)');
    is(recon('blocked', '--db', $db)->{out}, $first, 'the block is as it was (time, who, reason)');
    is(get("op=get&search=0x$K1{fpr}")->{content}, "Key blocked by the operator: court order 12\n", 'the old reason is served');
    $r = recon('block', '--db', $db, '--update-reason', '--reason', 'court order 13 | ticket 43', $K1{fpr});
    is($r->{rc}, 0, 'block --update-reason') or diag($r->{err});
    like($r->{out}, qr/^blocked 0 fingerprints, 0 keys deleted, 1 reason replaced$/m, '... replaces the reason');
    like($r->{err}, qr/^\S+Z reblock-update $K1{fpr} by "[^"]+" deleted=0 reason="court order 13" note="ticket 43" since="\Q$since\E"$/m,
         '... one audit line');
    like(recon('blocked', '--db', $db)->{out}, qr/^# \Q$since\E by [^\n]*\n$K1{fpr} court order 13 \| ticket 43$/m,
         '... keeping the first time and who');
    is(http_get("/vks/v1/by-fingerprint/$K1{fpr}")->{content}, "Key blocked by the operator: court order 13\n",
       'the new reason is served');
    $r = recon('block', '--db', $db, '--update-reason', '--reason', 'court order 12 | ticket 42 (private)', $K1{fpr});
    is($r->{rc}, 0, 'and back to the first reason');
    $audit = slurp("$db/audit.log") // '';
    is(scalar(() = $audit =~ / $K1{fpr} by /g), 4, 'four audit lines for it in the one audit file');
    ok(!-e "$db/takedown.log", 'no second audit file');
}

# another key with the blocked key's address: only that one is found
{
    my $h = gpg_home();
    my $g = gpg($h, '--passphrase', '', '--quick-gen-key', 'Another <vector1@example.invalid>', 'ed25519', 'sign', 'never');
    is($g->{rc}, 0, 'a second key with the address of the blocked one') or diag($g->{err});
    my $armor = gpg($h, '--armor', '--export', 'vector1@example.invalid')->{out};
    my ($ofpr) = gpg($h, '--with-colons', '--list-keys')->{out} =~ /^fpr:+([0-9A-F]{40}):/m;
    is(add($armor)->{status}, 200, '... uploaded');
    for my $u ('/vks/v1/by-email/vector1@example.invalid', '/pks/v2/certs/by-identity/vector1@example.invalid') {
        my $x = http_get($u);
        is($x->{status}, 200, "$u: 200, the other key");
        my $bin = $x->{content} =~ /BEGIN PGP/ ? join('', map { $_->[0] } dearmor($x->{content})) : $x->{content};
        my @fprs = map { v4_fpr($_->{body}) // () } grep { $_->{tag} == 6 } @{ parse_packets($bin) };
        is_deeply(\@fprs, [$ofpr], '... and only it: the blocked key never appears');
    }
    $r = recon('block', '--db', $db, '--reason', 'second', $ofpr);
    is($r->{rc}, 0, 'block that one as well') or diag($r->{err});
    is(http_get('/vks/v1/by-email/vector1@example.invalid')->{status}, 410, 'now the address answers 410');
    is(recon('unblock', '--db', $db, $ofpr)->{rc}, 0, 'unblock it (not stored any more)');
}
is(get("op=index&search=recon+vector")->{status}, 200, '... while it finds the other keys');
is(get("op=get&search=0x$K2{fpr}")->{status}, 200, 'other keys are served as before');

# never accepted again
my $k1_armor = slurp($K1{file});
$r = add($k1_armor);
is($r->{status}, 422, '/pks/add of the blocked key: 422');
like($r->{content}, qr/blocked by the operator: court order 12/, '... with the reason');
$r = add($k1_armor . slurp($K2{file}), 1);
is($r->{status}, 200, 'an upload of it with another key: 200 for the other');
my $j = eval { $JSON->decode($r->{content}) } // {};
is(scalar @{ $j->{invalid} // [] }, 1, '... the blocked one listed as invalid');
like(($j->{invalid} // [{}])->[0]{reason} // '', qr/^blocked by the operator: court order 12$/, '... with the reason');
unlike($r->{content}, qr/ticket 42/, 'the private note is never shown');
is(get("op=get&search=0x$K1{fpr}")->{status}, 410, 'still 410 after the uploads');
$r = recon('import', '--db', $db, $K1{file});
is($r->{rc}, 0, 'import runs');
like($r->{out}, qr/rejected 1: blocked by the operator: court order 12/, 'import counts it as rejected, with the reason');

# check, list
$r = recon('check', '--db', $db);
is($r->{rc}, 0, 'reconsvc check is clean after the block') or diag($r->{out});
like($r->{out}, qr/^blocked: 1 block, 0 differences$/m, '... and looked at the blocks');
$r = recon('blocked', '--db', $db);
like($r->{out}, qr/^$K1{fpr} court order 12 \| ticket 42 \(private\)$/m, 'reconsvc blocked lists it (file format)');

# a subkey fingerprint: the key that has it goes, and stays out
$r = recon('block', '--db', $db, $K4{sub});
is($r->{rc}, 0, 'block by a subkey fingerprint') or diag($r->{err});
like($r->{out}, qr/deleted key $K4{fpr}/, '... deletes the key with that subkey');
$r = get("op=get&search=0x$K4{fpr}");
is($r->{status}, 410, 'its primary answers 410');
is($r->{content}, "Key blocked by the operator\n", '... no reason given, none shown');
like(recon('import', '--db', $db, $K4{file})->{out}, qr/rejected 1: blocked by the operator$/m,
     'import refuses the key with the blocked subkey');
$r = recon('block', '--db', $db, $K1{sub});
like($r->{err}, qr/$K1{sub} is already blocked as part of the key blocked by $K1{fpr}/,
     'blocking a fingerprint of a blocked key says which block covers it');

# 404 if the operator prefers (and nginx restarted meanwhile)
stop_nginx();
my $n404 = start_nginx(db => $db, location => 'hkp on; hkp_blocked_status 404;',
                       conf => 'location /pks/v2/ { hkp_v2; hkp_blocked_status 404; } '
                             . 'location /vks/v1/ { hkp_vks; hkp_blocked_status 404; }');
$r = http_get("$n404/pks/lookup?op=get&search=0x$K1{fpr}");
is($r->{status}, 404, 'hkp_blocked_status 404: 404');
is($r->{content}, "No keys found\n", '... as if it had never been stored');
is(http_get("$n404/pks/lookup?op=hget&search=$k1_hash")->{status}, 404, '... hget too');
for my $u (v2_urls(\%K1, 'vector1@example.invalid')) {
    next unless $u->[1];
    my $g = http_get("$n404$u->[0]");
    is($g->{status}, 404, "hkp_blocked_status 404: $u->[1]: 404");
    like($g->{content}, qr/^No (?:certificates|key) found\n\z/, "... the endpoint's own not-found answer");
}
stop_nginx($n404);

# survives a restart of nginx
start_nginx(db => $db, conf => $V2LOCS);
is(get("op=get&search=0x$K1{fpr}")->{status}, 410, 'after an nginx restart: still 410');

# ------------------------------------------------------------------ blocklist file
my @bulk;
srand(39);
for my $i (1 .. 300) {
    my $hex = join '', map { sprintf '%X', int rand 16 } 1 .. ($i % 3 ? 40 : 64);
    push @bulk, $hex;
}
my $list = "# blocklist for t/39\n\n"
    . join('', map { "$bulk[$_] bulk reason $_ | case $_\n" . ($_ % 50 ? '' : "   # a comment\n") } 0 .. $#bulk)
    . "0x$K2{fpr}   spam key\n";
spew("$T/list.txt", $list);
spew("$T/bad.txt", "$bulk[0] fine\nnot-a-fingerprint reason\n");
$r = recon('block', '--db', $db, '--file', "$T/bad.txt");
is($r->{rc}, 1, 'a blocklist with a bad line is refused');
like($r->{err}, qr{bad\.txt:2: "not-a-fingerprint" is not a v4 or v6 fingerprint}, '... naming the line');
like(recon('blocked', '--db', $db)->{out}, qr/^# reconsvc blocked: 2 blocks/m, '... and nothing of it is blocked');
$r = recon('block', '--db', $db, '--file', "$T/list.txt");
is($r->{rc}, 0, 'a blocklist of 301 entries loads') or diag($r->{err});
like($r->{out}, qr/blocked 301 fingerprints, 1 key deleted/, '... in one go, deleting the one stored key');
is(scalar(() = $r->{err} =~ /^\S+Z block [0-9A-F]+ by /mg), 301, '... one audit line per entry');
$r = recon('blocked', '--db', $db);
like($r->{out}, qr/^# reconsvc blocked: 303 blocks/m, 'reconsvc blocked: 303 blocks');
like($r->{out}, qr/^$bulk[7] bulk reason 7 \| case 7$/m, '... with their reasons');
is(get("op=get&search=0x$K2{fpr}")->{content}, "Key blocked by the operator: spam key\n", 'the stored one answers 410');
my ($v6) = grep { length == 64 } @bulk;
is(get("op=get&search=$v6")->{status}, 410, 'a v6 fingerprint of the list answers 410');
is(get("op=get&search=0x" . substr($v6, 0, 16))->{status}, 410, '... and its key ID (the first 64 bits)');
$r = recon('check', '--db', $db);
is($r->{rc}, 0, 'check is clean with the blocklist') or diag($r->{out});
# the list read back is the same list
spew("$T/roundtrip.txt", recon('blocked', '--db', $db)->{out});
$r = recon('block', '--db', $db, '--file', "$T/roundtrip.txt");
is($r->{rc}, 0, 'what reconsvc blocked prints loads back') or diag($r->{err});
like($r->{out}, qr/blocked 0 fingerprints, 0 keys deleted, 303 already blocked \(left as they were\)/,
     '... (each block kept as it was)');
is(scalar(() = $r->{err} =~ /^\S+Z reblock [0-9A-F]+ by /mg), 303, '... one audit line each');
like(recon('blocked', '--db', $db)->{out}, qr/^# reconsvc blocked: 303 blocks/m, '... still 303 blocks');

# ------------------------------------------------------------------ unblock
$r = recon('unblock', '--db', $db, $K1{fpr});
is($r->{rc}, 0, 'reconsvc unblock') or diag($r->{err});
like($r->{err}, qr/^\S+Z unblock $K1{fpr} by "[^"]+ \(uid \d+\)" reason="court order 12"/m, '... one audit line');
like(slurp("$db/audit.log") // '', qr/ unblock $K1{fpr} by /, '... in the audit file too');
is(http_get("/vks/v1/by-fingerprint/$K1{fpr}")->{status}, 404, 'VKS by-fingerprint: 404 after the unblock');
is(get("op=get&search=0x$K1{fpr}")->{status}, 404, 'unblocked and not stored: 404');
$r = add($k1_armor);
is($r->{status}, 200, 'the upload is accepted again');
is(get("op=get&search=0x$K1{fpr}")->{status}, 200, 'and served');
is(recon('unblock', '--db', $db, $K1{fpr})->{rc}, 1, 'unblocking what is not blocked fails');
$r = recon('check', '--db', $db);
is($r->{rc}, 0, 'check clean after the unblock') or diag($r->{out});
stop_nginx();

# ------------------------------------------------------------------ nginx -t
my $SO = $ENV{HKP_MODULE_SO} || "$ROOT/build/ngx_hkp_module.so";
sub nginx_t {
    my ($name, $directive) = @_;
    return nginx_conf_test("$T/ngx-$name", $db, $directive);
}
SKIP: {
    skip "no module at $SO", 2 unless -f $SO;
    is(nginx_t('ok', 'hkp_blocked_status 404;')->{rc}, 0, 'nginx -t accepts hkp_blocked_status 404');
    my $bad = nginx_t('bad', 'hkp_blocked_status 451;');
    isnt($bad->{rc}, 0, 'nginx -t refuses hkp_blocked_status 451');
    like($bad->{err}, qr/invalid value "451"/, '... saying why') or diag($bad->{err});
}

# ------------------------------------------------------------------ recon
SKIP: {
    skip 'sks not installed', 1 unless SksPeer::available();
    skip 'mdb_dump not installed', 1 unless have_cmd('mdb_dump');
    skip 'python3-cryptography missing', 1
        unless have_synth();
    my ($base_f, $extra_f) = fixture_keys();
    my @extra = SksPeer::split_keyring(slurp($extra_f));
    my $X = $extra[0];
    my $xfpr = key_fpr(parse_packets($X));
    my ($xhash) = do { my $d = "$T/xonly"; import_keys($d, write_keys("$T/x.pgp", $X)); db_hashes($d) };
    ok($xfpr && $xhash, "the key X: $xfpr, hash $xhash");

    my $our = "$T/recon-db";
    import_keys($our, $base_f);
    $r = recon('block', '--db', $our, '--reason', 'takedown X', $xfpr);
    like($r->{out}, qr/blocked 1 fingerprint, 0 keys deleted/, 'X blocked before we ever had it');

    my $our_recon = SksPeer::free_port('127.0.0.1');
    my $sks = SksPeer->start(dir => "$T/sks", keys => [$base_f, write_keys("$T/sks-x.pgp", $X)],
                             peers => ["127.0.0.1:$our_recon"], gossip => 0.1);
    start_nginx(db => $our);
    my @ropts = (db => $our, http_port => port(), port => $our_recon,
                 peers => ['127.0.0.2 ' . $sks->recon_port], gossip => 1);
    my $node = start_recon(@ropts);
    my $refused = sub { scalar(() = $_[0] =~ /not stored: blocked by the operator: takedown X/g) };
    my $sessions = sub { scalar(() = $_[0] =~ /^.* session peer=127\.0\.0\.2:\d+ \(.* outcome=/mg) };
    # after the one fetch, several more rounds
    my $after = sub {
        my ($log) = @_;
        my $at = index($log, 'not stored: blocked by the operator');
        return $at < 0 ? 0 : $sessions->(substr($log, $at));
    };
    ok(wait_for(120, sub { $after->($node->log) >= 4 }), 'SKS offers X, we fetch it, then four more sessions')
        or diag(substr($node->log, -3000));
    my $log = $node->log;
    is($refused->($log), 1, 'X was fetched exactly once, and refused as blocked');
    like($log, qr/takedown: 1 hash of blocked keys remembered/, '... its hash remembered by the block');
    like($log, qr/1 hashes not asked for \(seen-cache\)/, '... and not asked for in later sessions');
    ok(!(grep { $_ eq $xhash } db_hashes($our)), 'X is not back');
    is(get("op=get&search=0x$xfpr")->{status}, 410, 'X answers 410');
    $r = recon('check', '--db', $our);
    is($r->{rc}, 0, 'check clean while recon runs') or diag($r->{out});

    # unblock: the next session fetches it
    $r = recon('unblock', '--db', $our, $xfpr);
    like($r->{out}, qr/unblocked $xfpr \(1 remembered hash forgotten\)/, 'unblock forgets the remembered hash');
    ok(wait_for(90, sub { grep { $_ eq $xhash } db_hashes($our) }), 'after the unblock, recon fetches X again')
        or diag(substr($node->log, -3000));
    is(get("op=get&search=0x$xfpr")->{status}, 200, 'and it is served');

    # block again while everything runs: deleted, its hash remembered, so
    # never fetched again (not even once)
    $r = recon('block', '--db', $our, '--reason', 'takedown X', $xfpr);
    like($r->{out}, qr/blocked 1 fingerprint, 1 key deleted/, 'blocked again while recon runs: X deleted');
    my $mark = length $node->log;
    ok(wait_for(90, sub { $sessions->(substr($node->log, $mark)) >= 4 }), 'four more sessions');
    is($refused->(substr($node->log, $mark)), 0, 'X was not fetched again');
    ok(!(grep { $_ eq $xhash } db_hashes($our)), 'X is not back');
    $r = recon('check', '--db', $our);
    is($r->{rc}, 0, 'check clean') or diag($r->{out});

    # the block survives restarts of reconsvc and nginx
    is($node->stop, 0, 'reconsvc stopped');
    stop_nginx();
    start_nginx(db => $our);
    $node = start_recon(@ropts, http_port => port());
    ok(wait_for(90, sub { $sessions->($node->log) >= 3 }), 'three sessions after the restart');
    is($refused->($node->log), 0, 'X not fetched after the restart');
    ok(!(grep { $_ eq $xhash } db_hashes($our)), 'X is not back');
    is(get("op=get&search=0x$xfpr")->{status}, 410, 'X still answers 410');
    is($node->stop, 0, 'reconsvc stopped');
    stop_nginx();
    $sks->stop;
}

done_testing();
