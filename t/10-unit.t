#!/usr/bin/perl
# Runs every C unit test binary under build/t/ (and build/asan/t/ when the
# sanitizer build exists) and reports one test per binary. A binary passes
# when it exits 0, was not killed by a signal, printed a TAP plan and no
# "not ok" line. Its output is shown as diagnostics when it fails (or always
# with HKP_UNIT_VERBOSE=1).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use Test::More;

my $root = abs_path(dirname(__FILE__) . '/..');
chdir $root or die "chdir $root: $!";
$ENV{HKP_TEST_DATA} //= "$root/t/data";

my @bins;
for my $dir ('build/t', 'build/asan/t') {
    next unless -d $dir;
    push @bins, grep { -f $_ && -x $_ } sort glob("$dir/*");
}

if (!@bins) {
    fail('unit test binaries exist (run make, and make SAN=1)');
    done_testing();
    exit;
}

for my $bin (@bins) {
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT) or die "dup: $!";
        exec { "./$bin" } "./$bin" or die "exec $bin: $!";
    }
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $status = $?;
    my $sig = $status & 127;
    my $code = $status >> 8;
    my ($plan) = $out =~ /^1\.\.(\d+)\s*$/m;
    my $nfail = () = $out =~ /^not ok\b/mg;
    my $pass = !$sig && $code == 0 && defined $plan && $plan > 0 && !$nfail;
    ok($pass, sprintf('%s (%s checks%s)', $bin, $plan // '?',
        $sig ? ", killed by signal $sig" : $code ? ", exit $code" : ''));
    if (!$pass || $ENV{HKP_UNIT_VERBOSE}) {
        diag($out);
    }
}

done_testing();
