#!/usr/bin/perl
# The serve policy (hkp_serve_policy clean, the default, and full) and UID
# redaction (reconsvc redact/unredact/redacted), with real nginx, gpg and sq,
# on the keys of t/data/serve (made by sq and gpg: mkfixtures.sh) plus forged
# packets built here:
#   - a victim with 5000 forged third-party certifications (random signer key
#     IDs, junk MPIs), 3 forged "by" a stored signer, and the stored signer's
#     real one: op=get serves the victim's own packets plus at most
#     hkp_serve_certs; the forged ones of the stored signer never; gpg imports
#     it; full serves everything;
#   - a UID with a forged self-signature and a subkey without a binding: not
#     served, not found by a word search; /pks/hashquery and the sks hash of
#     the stored key unchanged;
#   - a hard-revoked key: primary, revocation, UID + self-certification only,
#     gpg shows it revoked; a soft-revoked key served whole;
#   - 1PA3PC: exactly the attested certification;
#   - hkp_serve_max_uat; op=stats names the policy; nginx -t bounds;
#   - redaction: gone from get/index/vindex and word search under both
#     policies, back after unredact; audit log; reconsvc check.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $DATA = "$ROOT/t/data/serve";
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $NFORGED = 5000;
my $CERTS = 8;                         # HKP_SERVE_DEFAULT_CERTS

for my $c (qw(gpg sq)) {
    plan skip_all => "$c not installed" unless have_cmd($c);
}

# ------------------------------------------------------------------ packets

sub key_of { my ($f) = @_; my @b = dearmor(slurp("$DATA/$f")); return (split_keys($b[0][0]))[0] }

# Subpackets of one area: list of [type, body].
sub subpackets {
    my ($a) = @_;
    my @s;
    my $i = 0;
    while ($i < length $a) {
        my $o = ord substr($a, $i++, 1);
        my $len;
        if ($o < 192) { $len = $o }
        elsif ($o < 255) { $len = (($o - 192) << 8) + ord(substr($a, $i++, 1)) + 192 }
        else { $len = unpack 'N', substr($a, $i, 4); $i += 4 }
        push @s, [ord(substr($a, $i, 1)) & 0x7f, substr($a, $i + 1, $len - 1)];
        $i += $len;
    }
    return @s;
}

# A v4 signature's type, creation time and issuer key ID (hex).
sub sig_info {
    my ($body) = @_;
    my ($v, $type) = unpack 'CC', $body;
    return { type => $type } unless $v == 4;
    my $hl = unpack 'n', substr($body, 4, 2);
    my $ul = unpack 'n', substr($body, 6 + $hl, 2);
    my %i = (type => $type, ctime => 0, issuer => '');
    for my $s (subpackets(substr($body, 6, $hl)), subpackets(substr($body, 8 + $hl, $ul))) {
        $i{ctime} = unpack 'N', $s->[1] if $s->[0] == 2;
        $i{issuer} ||= uc unpack('H*', $s->[1]) if $s->[0] == 16;
        $i{issuer} ||= uc unpack('H*', substr($s->[1], -8)) if $s->[0] == 33;
    }
    return \%i;
}

sub keyid { substr(key_fpr($_[0]), -16) }

# A forged v4 EdDSA signature: right shape, junk material.
sub forged_sig {
    my ($type, $ctime, $issuer_hex) = @_;
    my $hashed = pack('CCN', 5, 2, $ctime) . pack('CC', 9, 16) . pack('H16', $issuer_hex);
    my $mpis = join '', map { pack('n', 256) . chr(0x80 | int rand 128) . join('', map { chr int rand 256 } 1 .. 31) } 1 .. 2;
    return { tag => 2, body => pack('CCCCn', 4, $type, 22, 8, length $hashed) . $hashed
                               . pack('n', 0) . chr(int rand 256) . chr(int rand 256) . $mpis };
}

sub rand_id { join '', map { sprintf '%02X', int rand 256 } 1 .. 8 }

# Served packets of op=get (or hget) as a list, with the HTTP status.
sub get_pkts {
    my ($base, $q) = @_;
    my $r = http_get("$base/pks/lookup?options=mr&$q");
    return ($r->{status}, []) if $r->{status} != 200;
    my @b = dearmor($r->{content});
    return ($r->{status}, [ map { @{ parse_packets($_->[0]) } } @b ], $r->{content});
}

sub third_party {     # third-party certification sigs among packets, as infos
    my ($pkts, $own) = @_;
    return grep { $_->{type} >= 0x10 && $_->{type} <= 0x13 && $_->{issuer} ne $own }
           map { sig_info($_->{body}) } grep { $_->{tag} == 2 } @$pkts;
}

sub tags { my ($pkts, $tag) = @_; return scalar grep { $_->{tag} == $tag } @$pkts }

sub recon { run_cmd([$RECONSVC, @_], timeout => 120) }

# ------------------------------------------------------------------ the keys

my %K = map { $_ => key_of("$_.pgp") } qw(signer other victim hard soft att alice);
my %ID = map { $_ => keyid($K{$_}) } keys %K;
my %FPR = map { $_ => key_fpr($K{$_}) } keys %K;

# the victim: forged certifications after its UID's signatures, then a UID
# with a forged self-signature and a subkey without a binding
my @v = @{ $K{victim} };
my ($uid_at) = grep { $v[$_]{tag} == 13 } 0 .. $#v;
my $last = $uid_at;
$last++ while $last + 1 <= $#v && $v[$last + 1]{tag} == 2;
my ($real) = grep { $_->{issuer} eq $ID{signer} } map { sig_info($_->{body}) }
             grep { $_->{tag} == 2 } @v;
ok($real && $real->{ctime}, 'the victim carries the signer\'s real certification');
my @forged = map { forged_sig(0x10, $real->{ctime} - 1 - int(rand 30_000_000), rand_id()) } 1 .. $NFORGED;
push @forged, map { forged_sig(0x10, $real->{ctime} + 1000 + $_, $ID{signer}) } 1 .. 3;
my $bad_uid = { tag => 13, body => 'Forged Identity <forged@example.org>' };
my $bad_self = forged_sig(0x13, $real->{ctime} + 5, $ID{victim});
my $junk_sub = { tag => 14, body => pack('CNC', 4, $real->{ctime}, 22) . pack('C', 9)
                 . pack('H*', '2B06010401DA470F01') . pack('n', 263) . chr(0x40)
                 . join('', map { chr int rand 256 } 1 .. 32) };
my @poisoned = (@v[0 .. $last], @forged, $bad_uid, $bad_self, @v[$last + 1 .. $#v], $junk_sub);

my $T = tmpdir();
my $db = "$T/db";
spew("$T/poisoned.bin", packets_bin(\@poisoned));
import_keys($db, "$T/poisoned.bin", map { "$DATA/$_.pgp" } qw(signer other hard soft att alice));
my $stored_hash = sks_hash(\@poisoned);
my $nstored = scalar @poisoned;

my $clean = start_nginx(db => $db);
my $full = start_nginx(db => $db, conf => 'hkp_serve_policy full;');
my $small_uat = start_nginx(db => $db, conf => 'hkp_serve_max_uat 1k; hkp_serve_certs 0;');

# ------------------------------------------------------------------ poisoned key

my ($st, $p, $armor) = get_pkts($clean, "op=get&search=0x$FPR{victim}");
is($st, 200, 'clean: op=get of the poisoned victim: 200');
my @tp = third_party($p, $ID{victim});
is(scalar @tp, $CERTS, "clean: at most hkp_serve_certs ($CERTS) third-party certifications");
is(scalar(grep { $_->{issuer} eq $ID{signer} && $_->{ctime} == $real->{ctime} } @tp), 1,
   'clean: the stored signer\'s real certification is among them (the newest valid)');
is(scalar(grep { $_->{issuer} eq $ID{signer} && $_->{ctime} != $real->{ctime} } @tp), 0,
   'clean: the 3 forged "by" the stored signer (newer) fail its check and are not served');
my @newest = sort { $b <=> $a } map { sig_info($_->{body})->{ctime} } @forged[0 .. $NFORGED - 1];
is_deeply([sort { $b <=> $a } map { $_->{ctime} } grep { $_->{issuer} ne $ID{signer} } @tp],
          [@newest[0 .. $CERTS - 2]], 'clean: the others are the newest forged ones');
{
    my %own = map { ($_->{tag} . $_->{body}) => 1 } @v;
    is(scalar(grep { !$own{$_->{tag} . $_->{body}} } grep { $_->{tag} != 2 || sig_info($_->{body})->{issuer} eq $ID{victim} } @$p),
       0, 'clean: nothing but the victim\'s own packets besides the certifications');
    is(scalar(grep { $own{$_->{tag} . $_->{body}} } @$p), scalar(@v),
       'clean: every one of the victim\'s own packets is served');
}
is(tags($p, 13), 1, 'clean: the UID with a forged self-signature is not served');
is(tags($p, 14), tags(\@v, 14), 'clean: the subkey without a binding is not served');

{
    my $h = gpg_home();
    my $r = gpg($h, '--import', { stdin => $armor });
    is($r->{rc}, 0, 'gpg imports the clean answer') or diag $r->{err};
    $r = gpg($h, '--with-colons', '--list-keys', $FPR{victim});
    like($r->{out}, qr/^uid:[^\n]*Victim <victim\@example\.org>/m, '... and lists the victim');
    $r = run_cmd(['sq', 'inspect'], stdin => $armor, timeout => 60);
    like($r->{out}, qr/$FPR{victim}/, 'sq reads the clean answer') or diag $r->{err};
}

($st, $p) = get_pkts($full, "op=get&search=0x$FPR{victim}");
is($st, 200, 'full: op=get of the poisoned victim: 200');
is(scalar(third_party($p, $ID{victim})), $NFORGED + 4, 'full: all forged and real certifications');
is(scalar @$p, $nstored, 'full: every stored packet');
is(sks_hash($p), $stored_hash, 'full: the stored key exactly');

# the stored key, as recon and /pks/hashquery see it
{
    my $body = pack('N', 1) . pack('N', 16) . pack('H*', $stored_hash);
    my $r = http_req('POST', "$clean/pks/hashquery", {}, $body);
    is($r->{status}, 200, 'hashquery of the stored hash (clean server): 200');
    my $n = unpack 'N', $r->{content};
    my $len = unpack 'N', substr($r->{content}, 4, 4);
    my $hq = parse_packets(substr($r->{content}, 8, $len));
    is($n, 1, '... one key');
    is(sks_hash($hq), $stored_hash, '... the stored key unchanged (sks hash of the full key)');
    is(scalar @$hq, $nstored, '... with every packet, forged ones included');
    my ($s2, $hg) = get_pkts($clean, "op=hget&search=$stored_hash");
    is($s2, 200, 'op=hget by the stored hash: 200');
    is(scalar(third_party($hg, $ID{victim})), $CERTS, 'op=hget serves the clean view');
    my $out = run_cmd([$RECONSVC, 'hash', '--profile', 'sks', "$T/poisoned.bin"], timeout => 60);
    like($out->{out}, qr/\b$stored_hash\b/i, 'reconsvc hash --profile sks: the same hash');
}

# a text search reveals no key through a UID that is not served
{
    my $r = http_get("$clean/pks/lookup?op=index&options=mr&search=forged");
    is($r->{status}, 404, 'clean: a word only in the unserved UID finds nothing');
    unlike($r->{content}, qr/$FPR{victim}/i, '... and does not name the key');
    $r = http_get("$clean/pks/lookup?op=index&options=mr&exact=on&search=forged\@example.org");
    is($r->{status}, 404, 'clean: exact e-mail of the unserved UID finds nothing');
    $r = http_get("$clean/pks/lookup?op=index&options=mr&search=victim");
    is($r->{status}, 200, 'clean: a word of the served UID finds the key');
    $r = http_get("$full/pks/lookup?op=index&options=mr&search=forged");
    is($r->{status}, 200, 'full: the unserved UID\'s word finds the key (SKS does)');
}

# vindex lists what is not served, marked; index and get do not
{
    my $r = http_get("$clean/pks/lookup?op=vindex&options=mr&search=0x$FPR{victim}");
    is($r->{status}, 200, 'clean: vindex mr of the victim');
    like($r->{content}, qr/^info:1:1\npub:$FPR{victim}:/, '... one pub record');
    like($r->{content}, qr/^uid:Victim <victim\@example\.org>:\d+::$/m, '... its served UID as a uid record');
    like($r->{content}, qr/^xuid:Forged Identity <forged\@example\.org>::::no-valid-self-signature$/m,
         '... the unserved UID as an xuid record, with why');
    like($r->{content}, qr/^xsub:[0-9A-F]{40}:22:256:\d+:::no-valid-self-signature$/m,
         '... the unbound subkey as an xsub record');
    is(scalar(() = $r->{content} =~ /^xsub:/mg), 1, '... only that subkey (the bound one is served)');
    $r = http_get("$clean/pks/lookup?op=index&options=mr&search=0x$FPR{victim}");
    unlike($r->{content}, qr/^x|Forged Identity/m, 'clean: op=index mr does not list them');
    $r = http_get("$full/pks/lookup?op=vindex&options=mr&search=0x$FPR{victim}");
    like($r->{content}, qr/^uid:Forged Identity/m, 'full: vindex mr lists the UID as served');
    unlike($r->{content}, qr/^x/m, '... and marks nothing');

    $r = http_get("$clean/pks/lookup?op=vindex&search=0x$FPR{victim}");
    my $page = $r->{content};
    like($page, qr{<strong>uid</strong> <span class="uid">Forged Identity &lt;forged\@example\.org&gt;</span> <span class="warn">\[not served: no valid self-signature\]</span>},
         'clean: the vindex page lists the unserved UID, marked');
    like($page, qr{<strong>sub</strong> [^\n]*<span class="warn">\[not served: no valid binding signature\]</span>},
         '... and the unbound subkey');
    my ($hidden) = $page =~ /\[(\d+) signatures not served\]/;
    ok(($hidden // 0) >= $NFORGED - $CERTS, "... and counts the certifications not served ($hidden)");
    is(scalar(() = $page =~ /^sig /mg) < 100, 1, '... without listing them');
    like($page, qr{<h2[^>]*><bdi>Victim &lt;}, '... the summary is headed by the served UID');
    like($page, qr{<h3>User IDs \(1\)</h3>}, '... and counts only the served UIDs');
    like($page, qr{<pre>\nType bits[^<]*(?:<(?!strong>uid)[^<]*)*<strong>uid</strong> <span class="uid">Victim &lt;},
         '... the listing starts with the served UID');
    $r = http_get("$full/pks/lookup?op=vindex&search=0x$FPR{victim}");
    unlike($r->{content}, qr/not served/, 'full: the page marks nothing');

    # a photo ID over hkp_serve_max_uat; a hard-revoked key's subkeys
    $r = http_get("$small_uat/pks/lookup?op=vindex&options=mr&search=0x$FPR{alice}");
    like($r->{content}, qr/^xuat::::::too-large$/m, 'hkp_serve_max_uat: the photo ID is an xuat record');
    $r = http_get("$small_uat/pks/lookup?op=vindex&search=0x$FPR{alice}");
    like($r->{content}, qr{<strong>uat</strong> \[contents omitted\] <span class="warn">\[not served: larger than this server serves\]</span>},
         '... marked on the page');
    $r = http_get("$clean/pks/lookup?op=vindex&options=mr&search=0x$FPR{hard}");
    like($r->{content}, qr/^xsub:[0-9A-F]{40}:[^\n]*:key-revoked$/m, 'hard-revoked: its subkeys are xsub records (key-revoked)');

    # gpg reads a vindex mr answer (gpg asks op=index: served as vindex)
    my $vx = start_nginx(db => $db, conf => 'if ($arg_op = "index") { set $args "op=vindex&options=mr&search=$arg_search"; }');
    my $probe = http_get("$vx/pks/lookup?op=index&options=mr&search=0x$FPR{victim}");
    like($probe->{content}, qr/^xuid:/m, 'a server answering op=index with the vindex records');
    my $h = gpg_home(keyserver => 'hkp://127.0.0.1:' . ($vx =~ /:(\d+)$/)[0]);
    # in batch mode gpg prints the listing, then fails to prompt
    my $g = gpg($h, '--search-keys', "0x$FPR{victim}");
    like($g->{out}, qr/^\(1\)\s+Victim <victim\@example\.org>/m, 'gpg --search-keys lists the key from it')
        or diag($g->{out} . $g->{err});
    unlike($g->{out}, qr/Forged|\(2\)/, '... with the served UID only, one key');
    $g = gpg($h, '--recv-keys', $FPR{victim});
    is($g->{rc}, 0, 'gpg --recv-keys from it') or diag($g->{err});
    stop_nginx($vx);
}

# found keys are examined up to 4 x hkp_max_reply_size of stored bytes
{
    my $capped = start_nginx(db => $db, conf => 'hkp_max_reply_size 64k;');
    my $r = http_get("$capped/pks/lookup?op=get&options=mr&search=0x$FPR{victim}");
    is($r->{status}, 400, 'clean, hkp_max_reply_size 64k: the poisoned key (over 4 x 64k stored) is refused');
    like($r->{content}, qr/Too much key material/, '... with the reason');
    $r = http_get("$capped/pks/lookup?op=get&options=mr&search=0x$FPR{alice}");
    is($r->{status}, 200, '... a small key is served');
}

# ------------------------------------------------------------------ revoked keys

($st, $p, $armor) = get_pkts($clean, "op=get&search=0x$FPR{hard}");
is($st, 200, 'hard-revoked: 200');
is_deeply([map { $_->{tag} } @$p], [6, 2, 13, 2], 'hard-revoked: primary, revocation, UID, self-signature');
is(sig_info($p->[1]{body})->{type}, 0x20, '... the revocation');
is(sig_info($p->[3]{body})->{type}, 0x13, '... the UID\'s self-certification');
is(scalar(third_party($p, $ID{hard})), 0, 'hard-revoked: no third-party certification');
{
    my $h = gpg_home();
    my $r = gpg($h, '--import', { stdin => $armor });
    is($r->{rc}, 0, 'gpg imports the hard-revoked answer') or diag $r->{err};
    $r = gpg($h, '--with-colons', '--list-keys', $FPR{hard});
    like($r->{out}, qr/^pub:r:/m, '... and shows it revoked') or diag $r->{out};
}
($st, $p) = get_pkts($full, "op=get&search=0x$FPR{hard}");
is(scalar @$p, scalar @{ $K{hard} }, 'full: the hard-revoked key whole');
($st, $p) = get_pkts($clean, "op=get&search=0x$FPR{soft}");
is(sks_hash($p), sks_hash($K{soft}), 'soft-revoked (superseded): served whole');

# ------------------------------------------------------------------ 1PA3PC

($st, $p, $armor) = get_pkts($clean, "op=get&search=0x$FPR{att}");
is($st, 200, 'attested key: 200');
@tp = third_party($p, $ID{att});
is_deeply([map { $_->{issuer} } @tp], [$ID{signer}], 'attested: exactly the attested certification');
is(scalar(grep { $_->{type} == 0x16 } map { sig_info($_->{body}) } grep { $_->{tag} == 2 } @$p), 1,
   'attested: the attestation is served');
is(scalar(third_party($K{att}, $ID{att})), 2, 'the stored key has two certifications');
{
    my $h = gpg_home();
    my $r = gpg($h, '--import', { stdin => $armor });
    is($r->{rc}, 0, 'gpg imports the attested answer') or diag $r->{err};
    $r = run_cmd(['sq', 'inspect', '--certifications'], stdin => $armor, timeout => 60);
    like($r->{out}, qr/$FPR{att}/, 'sq reads it') or diag $r->{err};
}
($st, $p) = get_pkts($small_uat, "op=get&search=0x$FPR{att}");
is(scalar(third_party($p, $ID{att})), 1, 'hkp_serve_certs 0 leaves the attested one');

# ------------------------------------------------------------------ photo IDs

($st, $p) = get_pkts($clean, "op=get&search=0x$FPR{alice}");
is(tags($p, 17), 1, 'a 3 KB photo ID is served by default');
($st, $p) = get_pkts($small_uat, "op=get&search=0x$FPR{alice}");
is(tags($p, 17), 0, 'hkp_serve_max_uat 1k: not served');
is(tags($p, 13), 2, '... the UIDs are');

# ------------------------------------------------------------------ stats

{
    my $r = http_get("$clean/pks/lookup?op=stats");
    like($r->{content}, qr{Serve policy:</td><td>clean}, 'op=stats names the clean policy');
    $r = http_get("$clean/pks/lookup?op=stats&options=json");
    like($r->{content}, qr/"servePolicy":\{"policy":"clean","certsPerUid":8,/, 'JSON too');
    $r = http_get("$full/pks/lookup?op=stats");
    like($r->{content}, qr{Serve policy:</td><td>full}, 'op=stats names the full policy');

    # the key page says where its status comes from
    $r = http_get("$clean/pks/lookup?op=vindex&search=0x$FPR{victim}");
    like($r->{content}, qr{\(from the self-signatures this server verified\)}, 'clean: the key page\'s status is from verified self-signatures');
    $r = http_get("$full/pks/lookup?op=vindex&search=0x$FPR{victim}");
    like($r->{content}, qr{\(from the signatures as stored, not verified by this server\)}, 'full: the key page says its status is not verified');
}

# ------------------------------------------------------------------ redaction

my $HIDDEN = 'Alice Hidden <hidden-alias@example.org>';

sub alice_visible {           # what each server shows of the hidden UID
    my ($base) = @_;
    my (undef, $g) = get_pkts($base, "op=get&search=0x$FPR{alice}");
    my $ix = http_get("$base/pks/lookup?op=index&options=mr&search=0x$FPR{alice}");
    my $vx = http_get("$base/pks/lookup?op=vindex&search=0x$FPR{alice}");
    my $w = http_get("$base/pks/lookup?op=index&options=mr&search=hidden-alias");
    my $ex = http_get("$base/pks/lookup?op=get&options=mr&exact=on&search=hidden-alias\@example.org");
    my $pub = http_get("$base/pks/lookup?op=index&options=mr&search=alice");
    return {
        get => scalar(grep { $_->{tag} == 13 && $_->{body} eq $HIDDEN } @$g),
        other_uids => scalar(grep { $_->{tag} == 13 } @$g),
        index => $ix->{content} =~ /hidden-alias/ ? 1 : 0,
        vindex => $vx->{content} =~ /hidden-alias/ ? 1 : 0,
        word => $w->{status}, exact => $ex->{status}, public => $pub->{status},
        public_hidden => $pub->{content} =~ /hidden-alias/ ? 1 : 0,
    };
}

for my $b ([$clean, 'clean'], [$full, 'full']) {
    is_deeply(alice_visible($b->[0]), { get => 1, other_uids => 2, index => 1, vindex => 1,
              word => 200, exact => 200, public => 200, public_hidden => 1 },
              "$b->[1]: before the redaction the UID is everywhere");
}

{
    my $r = recon('redact', '--db', $db, $FPR{alice}, $HIDDEN);
    is($r->{rc}, 0, 'reconsvc redact: exit 0') or diag $r->{err};
    like($r->{err}, qr/^\S+Z redact $FPR{alice} by "\S+ \(uid \d+\)[^"]*" uid="\Q$HIDDEN\E"$/m,
         '... prints the audit line on stderr');
    like($r->{out}, qr/^redacted $FPR{alice} "\Q$HIDDEN\E"$/m, '... and what it did on stdout');
    my $log = slurp("$db/audit.log") // '';
    like($log, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ redact $FPR{alice} by "\S+ \(uid \d+\)[^"]*" uid="\Q$HIDDEN\E"$/m,
         'one audit log line: when, who, what (the format of block and unblock)');
    $r = recon('redact', '--db', $db, $FPR{alice}, $HIDDEN);
    like($r->{out}, qr/already redacted/, 'redacting again: already redacted');
    is(scalar(() = (slurp("$db/audit.log") // '') =~ / redact /g), 1, '... no second audit line');
    $r = recon('redacted', '--db', $db);
    like($r->{out}, qr/^$FPR{alice} \S+ "\Q$HIDDEN\E"$/m, 'reconsvc redacted lists it');
    $r = recon('check', '--db', $db);
    is($r->{rc}, 0, 'reconsvc check: ok') or diag $r->{out} . $r->{err};
    like($r->{out}, qr/redactions: 1 user ID hidden/, '... and counts the redaction');
    $r = recon('redact', '--db', $db, 'ABCD', $HIDDEN);
    is($r->{rc}, 2, 'a bad fingerprint is refused');
}

for my $b ([$clean, 'clean'], [$full, 'full']) {
    is_deeply(alice_visible($b->[0]), { get => 0, other_uids => 1, index => 0, vindex => 0,
              word => 404, exact => 404, public => 200, public_hidden => 0 },
              "$b->[1]: the redacted UID is gone from get, index, vindex and word search");
}
{
    my $body = pack('N', 1) . pack('N', 16) . pack('H*', sks_hash($K{alice}));
    my $r = http_req('POST', "$clean/pks/hashquery", {}, $body);
    like($r->{content}, qr/\Q$HIDDEN\E/, 'hashquery still has the stored key whole');
}

{
    my $r = recon('unredact', '--db', $db, $FPR{alice}, $HIDDEN);
    is($r->{rc}, 0, 'reconsvc unredact: exit 0') or diag $r->{err};
    like(slurp("$db/audit.log") // '', qr/^\S+Z unredact $FPR{alice} by "[^"]+" uid="\Q$HIDDEN\E"$/m,
         'audit line for unredact');
    $r = recon('redacted', '--db', $db);
    like($r->{out}, qr/^0 redactions$/m, 'nothing redacted any more');

    # the one audit option of block/unblock/redact/unredact, --log its alias
    my $other = "$db/../other-audit.log";
    $r = recon('redact', '--db', $db, '--audit', "$db/no/such/dir/audit.log", $FPR{alice}, $HIDDEN);
    is($r->{rc}, 1, 'redact with an audit file that cannot be opened: fails');
    like(recon('redacted', '--db', $db)->{out}, qr/^0 redactions$/m, '... and redacts nothing');
    is(recon('redact', '--db', $db, '--audit', $other, $FPR{alice}, $HIDDEN)->{rc}, 0, 'redact --audit FILE');
    is(recon('unredact', '--db', $db, '--log', $other, $FPR{alice}, $HIDDEN)->{rc}, 0, 'unredact --log FILE (alias)');
    my $o = slurp($other) // '';
    ok($o =~ /^\S+Z redact $FPR{alice} by / && $o =~ /^\S+Z unredact $FPR{alice} by /m,
       'both lines in that file');
    is(scalar(() = (slurp("$db/audit.log") // '') =~ /redact /g), 2, '... none more in DIR/audit.log');
}
for my $b ([$clean, 'clean'], [$full, 'full']) {
    is_deeply(alice_visible($b->[0]), { get => 1, other_uids => 2, index => 1, vindex => 1,
              word => 200, exact => 200, public => 200, public_hidden => 1 },
              "$b->[1]: after unredact the UID is back");
}

# a signer's redacted UID is not shown as its name on vindex pages either
{
    my $page = sub { http_get("$_[0]/pks/lookup?op=vindex&search=0x$FPR{victim}")->{content} };
    like($page->($clean), qr/signer\@example\.org/, 'vindex names the stored signer by its UID');
    my $r = recon('redact', '--db', $db, $FPR{signer}, 'Signer <signer@example.org>');
    is($r->{rc}, 0, 'redact the signer\'s UID') or diag $r->{err};
    for my $b ([$clean, 'clean'], [$full, 'full']) {
        my $c = $page->($b->[0]);
        unlike($c, qr/signer\@example\.org/, "$b->[1]: vindex no longer shows the redacted signer UID");
        like($c, qr/$ID{signer}/i, "$b->[1]: ... the signature is still listed by key ID");
    }
    recon('unredact', '--db', $db, $FPR{signer}, 'Signer <signer@example.org>');
}

# ------------------------------------------------------------------ nginx -t

{
    my $nt = sub { my ($name, $directive) = @_; nginx_conf_test("$T/ngx-$name", $db, $directive) };
    my $r = $nt->('ok', 'hkp_serve_policy full; hkp_serve_certs 1000; hkp_serve_max_uat 1m;');
    is($r->{rc}, 0, 'nginx -t accepts the serve directives at their maxima') or diag $r->{err};
    for my $bad (['pol', 'hkp_serve_policy some;', qr/invalid value "some"/],
                 ['certs', 'hkp_serve_certs 1001;', qr/value must be between 0 and 1000/],
                 ['uat', 'hkp_serve_max_uat 2m;', qr/value must be between 0 and 1048576/])
    {
        $r = $nt->($bad->[0], $bad->[1]);
        isnt($r->{rc}, 0, "nginx -t refuses $bad->[1]");
        like($r->{err}, $bad->[2], '... saying why') or diag $r->{err};
    }
}

unlike(nginx_error_log($clean), qr/\[(alert|crit|emerg)\]/, 'no alert in the error log');

done_testing();
