#!/usr/bin/perl
# POST /pks/hashquery by the hash of another profile (issue 8 item 3): a
# hockeypuck hash is answered with the form the hockeypuck profile hashes
# (what Hockeypuck keeps of the key), so that a Hockeypuck peer storing
# those bytes gets the hash it asked for. Over the Hockeypuck 2.2 vectors
# (t/data/hockeypuck-2.2: the 25 edge keys and a Debian sample with every
# key whose Hockeypuck hash differs from SKS's):
#   - every key stored under the hash Hockeypuck stored comes back as
#     bytes whose hockeypuck hash is that hash, and whose SKS hash is that
#     hash too: the very packets Hockeypuck stored, nothing more
#   - answers by SKS hash are byte-identical to those of the db before it
#     kept the hockeypuck tree (the stored key as it is)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);
use ReconTest qw(:all);

plan skip_all => 'mdb_dump not installed' unless have_cmd('mdb_dump');

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $D = "$ROOT/t/data/hockeypuck-2.2";
my $T = tmpdir();

sub rows {
    my ($file, $set) = @_;
    my @r;
    for (split /\n/, slurp($file)) {
        my @f = split /\t/;
        push @r, { set => $set, index => $f[1], fpr => $f[2], md5 => uc $f[3] }
            if @f == 4 && $f[0] eq $set && $f[3] ne 'DROPPED';
    }
    return @r;
}
my %differs;
for (split /\n/, slurp("$D/differences.tsv")) {
    my @f = split /\t/;
    $differs{"$f[0]/$f[1]"} = 1 if @f == 4 && $f[1] =~ /^\d+$/;
}
my @hostile_files = sort glob("$D/hostile/[0-9][0-9]-*.pgp");
my @rows = (rows("$D/hashes.tsv", 'hostile'), rows("$D/debian-sample.tsv", 'debian'));
my @diff = grep { $differs{"$_->{set}/$_->{index}"} } @rows;
is(scalar @diff, 22, '22 vector keys Hockeypuck stores whose hash differs from SKS\'s')
    or diag(scalar @diff);

sub hq_body { pack('N', scalar @_) . join '', map { pack('N', 16) . pack('H*', $_) } @_ }
sub hq_keys {               # the keys of a reply, in order
    my ($body) = @_;
    my ($n, $off, @k) = (unpack('N', $body), 4);
    for (1 .. $n) {
        my $len = unpack 'N', substr($body, $off, 4);
        push @k, substr($body, $off + 4, $len);
        $off += 4 + $len;
    }
    return @k;
}
sub hq { my ($b, @h) = @_; return http_req('POST', "$b/pks/hashquery", {}, hq_body(@h)) }
# hash lines (`<hash> <fpr>`) of key bytes under a profile
sub hash_of {
    my ($bytes, @prof) = @_;
    my $f = "$T/q.pgp";
    spew($f, $bytes);
    my $r = run_cmd([$RECONSVC, 'hash', @prof, $f]);
    return $r->{out} =~ s/\n\z//r;
}

my $db = "$T/db";
import_keys($db, @hostile_files, "$D/debian-sample.pgp");
my @sks = db_hashes($db);
ok(@sks > 80, scalar(@sks) . ' keys stored');

# the answers by SKS hash while the db keeps only the sks tree
my $base = start_nginx(db => $db);
my %before = map { $_ => hq($base, $_)->{content} } @sks;
is(scalar(grep { length > 6 } values %before), scalar @sks, 'sks only: every SKS hash answered');
is(scalar(hq_keys(hq($base, $diff[0]{md5})->{content})), 0,
   'sks only: a hockeypuck hash is not known');
stop_nginx($base);

# the db gains the hockeypuck tree (reconsvc run's default --profiles)
{
    my $n = start_recon(db => $db, http_port => 1, peers => []);
    ok(wait_for(30, sub { $n->log =~ /profiles: sks,hockeypuck/ }), 'reconsvc run: hockeypuck tree built')
        or diag($n->log);
    is($n->stop, 0, 'reconsvc stopped');
}
$base = start_nginx(db => $db);

# by SKS hash: unchanged
is(scalar(grep { hq($base, $_)->{content} ne $before{$_} } @sks), 0,
   'by SKS hash: every answer byte-identical to the sks-only db\'s');

# by hockeypuck hash: the form Hockeypuck keeps
my (%got, @bad);
for my $r (@rows) {
    my @k = hq_keys(hq($base, $r->{md5})->{content});
    my $name = "$r->{set} $r->{index} " . substr($r->{fpr}, -8);
    next unless @k;
    $got{"$r->{set}/$r->{index}"} = 1;
    my $hp = hash_of($k[0], '--profile', 'hockeypuck');
    my $sk = hash_of($k[0]);
    push @bad, "$name: hockeypuck hash $hp" unless $hp eq "$r->{md5} $r->{fpr}";
    push @bad, "$name: SKS hash $sk" unless $sk eq "$r->{md5} $r->{fpr}";
}
is(join("\n", @bad), '', 'every answer by hockeypuck hash: hockeypuck hash = SKS hash = the hash Hockeypuck stored');
# which vector keys are not answered: 11 and 13 (our store refuses them,
# as SKS does), 12 (the certification after a trust packet, which
# Hockeypuck drops, is in our stored form, so it has another hash here)
my @missing = map { "$_->{set}/$_->{index}" } grep { !$got{"$_->{set}/$_->{index}"} } @rows;
is("@missing", 'hostile/11 hostile/12 hostile/13', 'answered: all but hostile 11, 12 and 13');
is(scalar(grep { $got{"$_->{set}/$_->{index}"} } @diff), 19,
   'of the 22 whose hashes differ: 19 answered with the filtered form');
{
    # and the filtered form is not the stored key: photo ID gone
    my ($photo) = grep { $_->{set} eq 'hostile' && $_->{index} == 2 } @rows;
    my ($k) = hq_keys(hq($base, $photo->{md5})->{content});
    my @tags = map { $_->{tag} } @{ parse_packets($k) };
    ok(!(grep { $_ == 17 } @tags), 'hostile 2 by hockeypuck hash: no user attribute');
    my ($full) = hq_keys($before{(split / /, hash_of(slurp($hostile_files[2])))[0]});
    ok((grep { $_->{tag} == 17 } @{ parse_packets($full) }), 'hostile 2 by SKS hash: the user attribute');
}
# several hashes of both kinds in one request: reverse order, each its form
{
    my @h = ($sks[0], $diff[0]{md5}, $sks[1]);
    my @k = hq_keys(hq($base, @h)->{content});
    is(scalar @k, 3, 'mixed request: three keys');
    is($k[0], (hq_keys($before{$sks[1]}))[0], 'mixed request: last SKS hash first, stored key');
    is((split / /, hash_of($k[1], '--profile', 'hockeypuck'))[0], $diff[0]{md5},
       'mixed request: the hockeypuck hash, its form');
    is($k[2], (hq_keys($before{$sks[0]}))[0], 'mixed request: first SKS hash last');
}
stop_nginx($base);

done_testing();
