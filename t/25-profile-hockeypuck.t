#!/usr/bin/perl
# `reconsvc hash --profile hockeypuck`: for every key of the Hockeypuck 2.2
# vectors (t/data/hockeypuck-2.2, trimmed from the kit by its regen.py) the
# hash a real Hockeypuck 2.2.3 stored, or DROPPED where it refused the key:
# the 25 hand-made edge keys, a sample of Debian's keyring with every key
# whose Hockeypuck hash differs from SKS's, and the whole keyring when
# Debian 12's debian-keyring.gpg is installed (it is the kit's corpus).
# What Hockeypuck stored hashes to the same value again; the stored-form
# path (--stored) differs exactly where an upload's trust packets or
# repeated blocks matter.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(:all);

my $ROOT = root();
my $RECONSVC = $ENV{HKP_RECONSVC} || "$ROOT/build/reconsvc";
my $D = "$ROOT/t/data/hockeypuck-2.2";
my @HP = ('hash', '--profile', 'hockeypuck');

sub rows {
    my ($file, $set) = @_;
    my @r;
    for (split /\n/, slurp($file)) {
        my @f = split /\t/;
        next unless @f == 4 && $f[0] eq $set;
        push @r, { index => $f[1], fpr => $f[2], md5 => $f[3] };
    }
    return @r;
}

# Runs the command; compares its lines with the expected rows in order.
# Returns the number of matching lines.
sub check_hashes {
    my ($name, $files, $rows, %opt) = @_;
    my $res = run_cmd([$RECONSVC, @HP, @{ $opt{args} // [] }, @$files],
        timeout => 600);
    is($res->{rc}, 0, "$name: exit 0") or diag $res->{err};
    my @lines = split /\n/, $res->{out};
    is(scalar @lines, scalar @$rows, "$name: one line per key");
    my ($match, @bad) = (0);
    for my $i (0 .. $#$rows) {
        my $r = $rows->[$i];
        my ($h, $f) = split / /, $lines[$i] // '';
        my $want = $r->{md5} eq 'DROPPED' ? 'DROPPED' : uc $r->{md5};
        if (($h // '') eq $want && ($f // '') eq $r->{fpr}) {
            $match++;
        } else {
            push @bad, "index $r->{index} $r->{fpr}: want $want, got "
                . ($lines[$i] // 'nothing');
        }
    }
    is($match, scalar @$rows, "$name: $match/" . scalar(@$rows)
        . ' keys get the hash Hockeypuck stored (or DROPPED)')
        or diag join("\n", @bad[0 .. ($#bad < 20 ? $#bad : 19)]);
    return ($match, \@lines);
}

my @hostile_files = sort glob("$D/hostile/[0-9][0-9]-*.pgp");
is(scalar @hostile_files, 25, '25 hostile keys');
my @hostile = rows("$D/hashes.tsv", 'hostile');
my @sample = rows("$D/debian-sample.tsv", 'debian');
my @debian = rows("$D/hashes.tsv", 'debian');
is(scalar @hostile, 25, '25 hostile rows');
ok(@sample >= 60, scalar(@sample) . ' debian sample rows');
is(scalar @debian, 905, '905 debian rows');

my %differs;
for (split /\n/, slurp("$D/differences.tsv")) {
    my @f = split /\t/;
    $differs{"$f[0]/$f[1]"} = $f[3] if @f == 4 && $f[1] =~ /^\d+$/;
}
is(scalar(grep { /^debian/ } keys %differs), 8,
    '8 debian keys whose Hockeypuck hash differs from SKS');
is(scalar(grep { $differs{"debian/$_->{index}"} } @sample), 8,
    'all 8 are in the sample');

# --- uploads, as they came -------------------------------------------
my ($hm, $hlines) = check_hashes('hostile keys', \@hostile_files, \@hostile);
check_hashes('debian sample', ["$D/debian-sample.pgp"], \@sample);

# An armored upload gives the same lines.
{
    my $bin = slurp($hostile_files[6]);
    my $T = tmpdir();
    spew("$T/k.asc", enarmor($bin));
    my $a = run_cmd([$RECONSVC, @HP, "$T/k.asc"]);
    is($a->{out}, "$hlines->[6]\n", 'armored upload: same line');
}

# Why the dropped ones are dropped.
my %line = map { $_->{index} => $hlines->[$_->{index}] } @hostile;
like($line{22}, qr/^DROPPED \S+ no valid self-signature/, '22 only-uid-badsig: no valid self-sig');
like($line{23}, qr/^DROPPED \S+ primary key unreadable/, '23 primary-unknown-algo: primary unreadable');
like($line{24}, qr/^DROPPED A3DE327FED8D758D2286FF91EB56ED23 no valid self-signature/,
    '24 v3-rsa: no self-signature Hockeypuck recognises');
{
    my $res = run_cmd([$RECONSVC, @HP, "$D/debian-sample.pgp"], timeout => 300);
    like($res->{out}, qr/^DROPPED A36878F464108681600CB64844173FA13D058888 no valid self-signature/m,
        'debian A36878F4 (RIPEMD-160 self-sigs only): dropped');
}

# The sks profile is not changed by any of this: the hostile keys whose
# Hockeypuck hash differs from SKS's get another hash there.
{
    my $res = run_cmd([$RECONSVC, 'hash', @hostile_files]);
    my @sks = split /\n/, $res->{out};
    my $same = 0;
    for my $r (@hostile) {
        my ($h) = split / /, $sks[$r->{index}] // '';
        $same++ if $r->{md5} ne 'DROPPED' && $h eq uc $r->{md5};
    }
    is($same, 7, 'sks profile: 7 of the 25 hostile keys have the Hockeypuck hash, as the kit says');
}

# --- what Hockeypuck stored hashes to what it stored ----------------
{
    my @kept = grep { $_->{md5} ne 'DROPPED' } @hostile;
    check_hashes('Hockeypuck-stored hostile keys', ["$D/hostile-stored.pgp"], \@kept);
    my @dk = grep { $_->{md5} ne 'DROPPED' && $differs{"debian/$_->{index}"} } @sample;
    check_hashes('Hockeypuck-stored differing debian keys',
        ["$D/debian-sample-stored.pgp"], \@dk);
    # As our store would keep them: all but 11, whose user ID Hockeypuck
    # stored twice (once with each copy's self-signature) and our SKS
    # canonical form merges into one.
    my $res = run_cmd([$RECONSVC, @HP, '--stored', "$D/hostile-stored.pgp"]);
    my @st = split /\n/, $res->{out};
    my @other;
    for my $i (0 .. $#kept) {
        my ($h) = split / /, $st[$i] // '';
        push @other, $kept[$i]{index} if $h ne uc $kept[$i]{md5};
    }
    is("@other", '11', 'Hockeypuck-stored hostile keys, --stored: all but 11');
}

# --- the stored-form path (--stored) ---------------------------------
# Our store keeps the SKS canonical form: trust packets dropped, repeated
# blocks merged; where SKS's grammar stops (a user ID after a subkey, a
# marker packet) the rest is kept as it came, as the key's tail (key.h).
# There the hockeypuck profile gives Hockeypuck's hash for every key but
#   12 trust-packets: the certification after a trust packet (Hockeypuck
#      drops it "out of context"; our form no longer has the trust packet)
# and also for the two keys SKS 1.1.6 refuses (t/43-sks-refused.t), which
# the sks profile drops:
#   11 dup-uid: a user ID repeated after the subkey (Hockeypuck keeps both
#      copies, and so does the tail)
#   13 marker: a marker packet inside the key (Hockeypuck skips it)
{
    my $res = run_cmd([$RECONSVC, @HP, '--stored', @hostile_files]);
    my @st = split /\n/, $res->{out};
    my (@same, @other);
    for my $r (@hostile) {
        my $l = $st[$r->{index}] // '';
        if ($l eq $hlines->[$r->{index}]) { push @same, $r->{index} }
        else                              { push @other, $r->{index} }
    }
    is("@other", '12',
        "--stored: all hostile keys as uploaded but 12: @other");
    like($st[12], qr/^[0-9A-F]{32} 5BDABC52/, '--stored 12: hashed, with the certification');
    my $sks = run_cmd([$RECONSVC, 'hash', '--stored', @hostile_files]);
    my @sk = split /\n/, $sks->{out};
    like($sk[11], qr/^DROPPED F178DADB21A16665681E4AA33608783DE4A78CE5 user ID after a subkey$/,
         '--stored 11, sks profile: dropped, as SKS refuses it');
    like($sk[13], qr/^DROPPED 342669C8805D61C6EBA2C9E2C97D1FB53DFD78DD unexpected packet in key$/,
         '--stored 13, sks profile: dropped, as SKS refuses it');
    is(scalar(grep { /^DROPPED/ } @sk), 2, '--stored, sks profile: no other key dropped');
    my $d = run_cmd([$RECONSVC, @HP, '--stored', "$D/debian-sample.pgp"], timeout => 300);
    my $u = run_cmd([$RECONSVC, @HP, "$D/debian-sample.pgp"], timeout => 300);
    is($d->{out}, $u->{out}, '--stored: the debian sample as uploaded');
}

# --- the whole of Debian's keyring --------------------------------------
my $KEYRING = '/usr/share/keyrings/debian-keyring.gpg';
SKIP: {
    skip "$KEYRING is not Debian 12's 2022.12.24 (the kit's corpus)", 3
        unless -r $KEYRING && -s $KEYRING == 28549145;
    my ($m) = check_hashes('debian-keyring.gpg (all 905 keys)', [$KEYRING], \@debian);
    diag("full corpus: " . ($m + $hm) . "/930 keys match Hockeypuck 2.2.3");
}

# --- errors ---------------------------------------------------------
{
    my $T = tmpdir();
    my $bin = slurp($hostile_files[6]);
    spew("$T/cut.pgp", substr($bin, 0, length($bin) - 10));
    my $res = run_cmd([$RECONSVC, @HP, "$T/cut.pgp"]);
    is($res->{rc}, 1, 'truncated packet: exit 1');
    like($res->{out}, qr/^DROPPED - /, 'truncated packet: the key in progress is dropped');
    spew("$T/lead.pgp", "\xC2\x01\x04" . $bin);
    $res = run_cmd([$RECONSVC, @HP, "$T/lead.pgp"]);
    is($res->{rc}, 0, 'leading signature: exit 0');
    like($res->{out}, qr/\ADROPPED - packets before the first public key\n\Q$hlines->[6]\E\n\z/,
        'leading signature: reported once, then the key');
}

done_testing();
